//! The generation pipeline: txt2img, img2img and inpainting on a loaded engine.

pub mod control;
pub mod job;
pub mod output;

pub use control::{JobControl, Progress};
pub use job::GenerationJob;
pub use output::{GeneratedImage, GenerationInfo, GenerationOutput};

use crate::runtime::RuntimeError;
use crate::samplers::SamplerError;

/// Errors while running a job on a device.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error("invalid job: {0}")]
    Invalid(String),
    #[error("prompt: {0}")]
    Prompt(String),
    #[error("image: {0}")]
    Image(String),
    #[error("the device worker stopped before the job finished")]
    WorkerGone,
    #[error("{0}")]
    Internal(String),
}
