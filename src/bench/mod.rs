//! `sdgate bench`: latency and throughput of the real serving path, with the shapes, iterations,
//! warm-up, date, card and provider of every number (benches/README.md explains each one).
//!
//! Parts (each selectable with `--parts`):
//! 1. `unet`: one UNet call through [`Engine::unet`](crate::runtime::Engine::unet) per CFG batch size.
//! 2. `e2e`: txt2img jobs through the device pool, one at a time: total time and the share spent
//!    inside ONNX Runtime (from the per-graph clock, [`crate::runtime::graph::graph_times`]).
//! 3. `http`: images/s through POST /sdapi/v1/txt2img with several concurrent clients, on the real
//!    server (the API's app on the real pool) bound to a free local port.
//!
//! Peak memory is sampled throughout (nvidia-smi on a GPU, VmHWM on the CPU). The result is one JSON
//! file and a Markdown report under `--out`.

pub mod args;
pub mod client;
mod e2e;
mod http;
pub mod memory;
mod pool;
pub mod report;
mod run;
pub mod stats;
pub mod system;
mod unet;

pub use args::{BenchArgs, Part};
pub use report::Report;
pub use run::{Written, run};

use crate::models::ModelError;
use crate::pipeline::PipelineError;
use crate::runtime::RuntimeError;
use crate::runtime::backend::SubmitError;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("generation failed: {0}")]
    Pipeline(#[from] PipelineError),
    #[error("the pool refused a job: {0}")]
    Submit(#[from] SubmitError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("the device pool: {0}")]
    Pool(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("invalid benchmark settings: {0}")]
    Invalid(String),
    #[error("writing the report: {0}")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }
}
