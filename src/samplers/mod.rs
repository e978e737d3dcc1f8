//! Samplers and sigma schedules.
//!
//! A sampler is an object-safe state machine: it asks for denoiser evaluations `D(x, σ)` and
//! receives the denoised result. It never calls a model, so the device worker can batch the
//! evaluations of many jobs into one UNet call.

// STUB until samplers lands (registry.rs is a placeholder for the API layer).
pub mod registry;

use ndarray::Array4;

/// Latents `[batch, channels, height, width]`, always f32 on the host.
pub type Latents = Array4<f32>;

/// What a sampler wants next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Evaluate the denoiser at `x` with noise level `sigma` (one σ for the whole batch of this job)
    /// and hand the denoised estimate to the next call of [`Sampler::next`].
    Evaluate { x: Latents, sigma: f32 },
    /// Sampling is finished; these are the final latents.
    Done(Latents),
}

/// Errors of the sampler layer.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error("unknown sampler {name:?}; valid samplers: {valid}")]
    UnknownSampler { name: String, valid: String },
    #[error("unknown schedule {name:?}; valid schedules: {valid}")]
    UnknownSchedule { name: String, valid: String },
    #[error("invalid sampler parameter: {0}")]
    InvalidParameter(String),
    #[error("sampler protocol error: {0}")]
    Protocol(String),
}

/// Standard-normal noise as the WebUI draws it for one job (one generator per image of the batch).
pub trait NoiseSource: Send {
    /// Noise shaped like `x` (the WebUI's hijacked `torch.randn_like`).
    fn randn_like(&mut self, x: &Latents) -> Latents;
}

/// Noise for SDE samplers between two sigmas (k-diffusion's `noise_sampler(sigma, sigma_next)`).
pub trait SdeNoise: Send {
    fn noise(&mut self, sigma: f32, sigma_next: f32) -> Latents;
}

/// A sampler in progress.
pub trait Sampler: Send {
    /// Advance. `denoised` is `D(x, σ)` for the last [`Step::Evaluate`], `None` on the first call.
    fn next(&mut self, denoised: Option<Latents>) -> Result<Step, SamplerError>;
    /// (steps done, total steps) as the WebUI's progress counts them.
    fn progress(&self) -> (usize, usize);
}
