//! The generation pipeline: txt2img, img2img and inpainting on a loaded engine.
//!
//! [`Pipeline`] turns accepted jobs into [`task::JobTask`]s that a device worker drives; the
//! worker owns the engine and merges the UNet evaluations of concurrent tasks.

pub mod context;
pub mod control;
mod guidance;
mod info;
pub mod job;
pub mod output;
mod prepare;
pub mod task;

use std::sync::Arc;

pub use control::{JobControl, Progress};
pub use job::GenerationJob;
pub use output::{GeneratedImage, GenerationInfo, GenerationOutput};

use crate::models::ModelFolder;
use crate::prompt::ti::EmbeddingDb;
use crate::runtime::RuntimeError;
use crate::runtime::pool::{Reply, TaskFactory};
use crate::runtime::task::Task;
use crate::samplers::SamplerError;
use context::ContextCache;

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

/// Makes tasks for accepted jobs; shared by every device worker.
pub struct Pipeline {
    contexts: ContextCache,
}

impl Pipeline {
    pub fn new(embeddings: EmbeddingDb) -> Arc<Self> {
        Arc::new(Self {
            contexts: ContextCache::new(embeddings),
        })
    }

    /// The task for one job. A model that cannot be prepared (e.g. a broken tokenizer) fails the job.
    pub fn task(&self, job: GenerationJob, control: Arc<JobControl>, reply: Reply) -> Box<dyn Task> {
        match self.contexts.get(&job.model) {
            Ok(ctx) => Box::new(task::JobTask::new(job, control, reply, ctx)),
            Err(e) => Box::new(Failed {
                reply: Some(reply),
                error: Some(e),
            }),
        }
    }

    /// The factory the device pool calls.
    pub fn factory(self: &Arc<Self>) -> TaskFactory {
        let me = self.clone();
        Arc::new(move |job, control, reply| me.task(job, control, reply))
    }

    pub fn contexts(&self) -> &ContextCache {
        &self.contexts
    }
}

/// A task that only reports why its job could not start.
struct Failed {
    reply: Option<Reply>,
    error: Option<PipelineError>,
}

impl Task for Failed {
    fn poll(&mut self, _: &mut crate::runtime::Engine) -> Result<crate::runtime::task::Poll, PipelineError> {
        Err(self
            .error
            .take()
            .unwrap_or(PipelineError::Internal("failed task polled twice".into())))
    }
    fn deliver(&mut self, _: Vec<ndarray::Array4<f32>>) {}
    fn fail(&mut self, error: PipelineError) {
        if let Some(r) = self.reply.take() {
            r.send(Err(error));
        }
    }
    fn cancel(&mut self) {
        let e = self.error.take().unwrap_or(PipelineError::Internal("cancelled".into()));
        self.fail(e);
    }
}

/// A small generation that exercises every graph: the warm-up each worker runs before /ready.
pub fn warmup_job(model: Arc<ModelFolder>) -> GenerationJob {
    use job::*;
    let size = model.manifest.default_image_size;
    GenerationJob {
        model,
        mode: Mode::Txt2Img { hires: None },
        prompt: "warm-up".into(),
        negative_prompt: String::new(),
        styles: vec![],
        sampler: SamplerChoice {
            sampler: "Euler".into(),
            scheduler: "Automatic".into(),
        },
        params: SamplerParams::default(),
        steps: 2,
        cfg_scale: 7.0,
        width: size,
        height: size,
        batch_size: 1,
        n_iter: 1,
        seed: SeedSettings {
            seed: 0,
            subseed: 0,
            subseed_strength: 0.0,
            resize_from: None,
            source: RngSource::Gpu,
            eta_noise_seed_delta: 0,
        },
        clip_skip: 1,
        output: OutputOptions::default(),
    }
}
