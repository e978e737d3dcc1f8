//! ONNX Runtime: the library, execution providers, sessions and the per-device owner thread.

pub mod backend;
pub mod bound;
pub mod engine;
pub mod graph;
pub mod library;
pub mod pool;
pub mod provider;
pub mod task;
pub mod worker;

pub use engine::Engine;
pub use provider::{ProviderKind, ProviderOptions};

use crate::models::ModelError;

/// Errors of the runtime layer.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Library(#[from] library::LibraryError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("execution provider {kind} cannot start: {message}")]
    Provider { kind: ProviderKind, message: String },
    #[error("cannot load the {graph} graph {file}: {message}")]
    Session {
        graph: &'static str,
        file: String,
        message: String,
    },
    #[error("the {graph} graph does not follow the model-folder contract: {message}")]
    Contract { graph: &'static str, message: String },
    #[error("running the {graph} graph failed: {message}")]
    Run { graph: &'static str, message: String },
    #[error("the device ran out of memory in the {graph} graph (try a smaller size or batch): {message}")]
    OutOfMemory { graph: &'static str, message: String },
}

impl RuntimeError {
    /// A failed run, classified: allocation failures become [`RuntimeError::OutOfMemory`].
    pub fn run(graph: &'static str, message: String) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("out of memory") || m.contains("failed to allocate memory") || m.contains("bfcarena") {
            RuntimeError::OutOfMemory { graph, message }
        } else {
            RuntimeError::Run { graph, message }
        }
    }
}
