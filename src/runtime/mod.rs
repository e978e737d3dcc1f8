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
    /// A failed run, classified: allocation failures become [`RuntimeError::OutOfMemory`], and so do
    /// cuDNN's refusals of tensors too large for its kernels (seen on an H100 with a 4096² batch of
    /// 16: CUDNN_STATUS_NOT_SUPPORTED) — both mean "this job does not fit this device".
    pub fn run(graph: &'static str, message: String) -> Self {
        const DOES_NOT_FIT: &[&str] = &[
            "out of memory",
            "failed to allocate memory",
            "bfcarena",
            "cudnn_status_alloc_failed",
            "cublas_status_alloc_failed",
            "cudnn_status_not_supported",
        ];
        let m = message.to_ascii_lowercase();
        if DOES_NOT_FIT.iter().any(|p| m.contains(p)) {
            RuntimeError::OutOfMemory { graph, message }
        } else {
            RuntimeError::Run { graph, message }
        }
    }
}

#[cfg(test)]
mod classify_tests {
    use super::RuntimeError;

    #[test]
    fn run_errors_are_classified() {
        let oom = [
            "CUDA failure 2: out of memory ; GPU=0",
            "Failed to allocate memory for requested buffer of size 123",
            "BFCArena::AllocateRawInternal Available memory of 0 is smaller than requested bytes",
            "CUDNN failure 9: CUDNN_STATUS_NOT_SUPPORTED ; GPU=0 ; expr=cudnnConvolutionForward",
            "CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED",
        ];
        for m in oom {
            assert!(
                matches!(RuntimeError::run("unet", m.into()), RuntimeError::OutOfMemory { .. }),
                "{m}"
            );
        }
        let other = "Non-zero status code returned while running Conv node. Invalid input shape";
        assert!(matches!(
            RuntimeError::run("unet", other.into()),
            RuntimeError::Run { .. }
        ));
    }
}
