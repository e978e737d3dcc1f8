//! Samplers and sigma schedules: every sampler and schedule type of the AUTOMATIC1111 WebUI (v1.10),
//! with the maths of k-diffusion 0.1.1.post1 and the WebUI's own samplers.
//!
//! A sampler is an object-safe state machine: it asks for denoiser evaluations `D(x, σ)` and receives the
//! denoised result. It never calls a model, so the device worker can batch the evaluations of many jobs
//! into one UNet call.
//!
//! # How the pipeline uses it
//! ```text
//! let spec  = SamplerSpec::resolve("DPM++ 2M", Some("Karras"))?;        // names, aliases, "… Karras"
//! let model = ModelSchedule::new(&ModelScheduleConfig::sd15())?;         // betas → ᾱ → σ table (once per model)
//! let plan  = spec.plan(&model, Pass::Txt2Img { steps: 20 }, &ScheduleOptions::default())?;
//! let den   = plan.denoiser();                                           // σ → (c_in, t), output → D
//! let mut s = plan.build(&SamplerParams::default(), Start::Txt2Img { noise }, noise_src, sde_noise)?;
//! let mut d = None;
//! loop {
//!     match s.next(d.take())? {
//!         Step::Evaluate { x, sigma } => {
//!             let inp = den.model_input(sigma, s.pending_timestep());     // UNet gets (c_in·x, t)
//!             let out = unet(inp.c_in * x, inp.timestep, cond, uncond) …;  // CFG as the WebUI combines it
//!             d = Some(den.denoise(&x, sigma, inp.timestep, &out));       // D = c_skip·x + c_out·out
//!         }
//!         Step::Done(latents) => break latents,                           // what the VAE decodes
//!     }
//! }
//! ```
//!
//! # Bit-compatibility with the WebUI
//! The state machines reproduce the WebUI's arithmetic step for step (checked against k-diffusion and the
//! WebUI's own functions by the goldens in `tests/fixtures/samplers/`, made by
//! `scripts/goldens/samplers.py`): the same evaluations at the same σ and model timesteps, the same calls
//! for noise in the same order. Images are bit-compatible with the WebUI where the noise is: the rng
//! module's [`NoiseSource`] is the WebUI's hijacked `torch.randn_like` (one generator per image) and its
//! [`SdeNoise`] is the WebUI's `BrownianTreeNoiseSampler` (torchsde Brownian tree per image seed over
//! [`SamplingPlan::brownian_range`]). Which sampler draws from which:
//!
//! | sampler | noise in the WebUI | here |
//! | --- | --- | --- |
//! | DPM++ SDE, DPM++ 2M SDE, DPM++ 2M SDE Heun, DPM++ 3M SDE (`brownian_noise`) | `BrownianTreeNoiseSampler(x, σmin>0, σmax, seed=all seeds of the batch)` | [`SdeNoise`] (required) |
//! | Euler a, DPM2 a, DPM++ 2S a, DPM fast, DPM adaptive, LCM (`default_noise_sampler`) | `torch.randn_like` (hijacked) | [`NoiseSource`] |
//! | Euler, Heun, DPM2 (`s_churn`), Restart, DDIM/DDIM CFG++ (`eta`) | `torch.randn_like` (hijacked) | [`NoiseSource`] |
//! | LMS, DPM++ 2M, PLMS, UniPC | none | none |
//!
//! Euler, Heun and DPM2 draw noise on every step in k-diffusion even when `s_churn` is 0 (it is then
//! multiplied by zero), DDIM draws on every step even with `eta` 0 and DPM fast/adaptive with `eta` 0;
//! here those draws are skipped when the noise cannot be used: the generator is private to the job's
//! pass, so no image changes.
//!
//! | sampler | compatibility with the WebUI 1.10 (goldens: final samples within 1e-4 relative) |
//! | --- | --- |
//! | Euler, Heun, DPM2, LMS, DPM++ 2M, DPM++ SDE, DPM++ 2M SDE (Heun), DPM++ 3M SDE, Restart | as k-diffusion / the WebUI, every schedule |
//! | Euler a, DPM2 a, DPM++ 2S a | as k-diffusion, except where σ_down = √(σ_next² − σ_up²) cancels (σ_next < σ/100, e.g. 2 steps): the WebUI's f32 value has few correct digits, this one is exact (differences up to ~4e-4) |
//! | DPM++ 2M SDE, 2M SDE Heun, 3M SDE at a single step | the WebUI fails (`UnboundLocalError` in k-diffusion); here the result is D(x) |
//! | DPM fast, DPM adaptive | as k-diffusion (solver times in f32 like the WebUI's tensors); an img2img pass with one σ level is an error, as in the WebUI |
//! | DDIM, DDIM CFG++, PLMS | the WebUI's timestep samplers, incl. their `range(0, 1000, 1000 // steps) + 1` timesteps (20 steps run 19 evaluations), the img2img off-by-one start, and the final latents at ᾱ of timestep 1 |
//! | UniPC | the WebUI's (bh1, time-uniform, order 3, lower order final); with fewer steps than its order the order is lowered (the WebUI asserts); img2img with t_enc = 0 is an error (the WebUI raises IndexError) |
//! | LCM | the WebUI's sampler and LCM denoiser (50 timesteps, boundary scalings); for v-prediction models the output is read as v here (the WebUI reads it as ε) |
//! | all | schedules are ignored by the timestep samplers, as in the WebUI; names resolve like the WebUI's `get_sampler_and_scheduler`, but unknown names are errors instead of silent fallbacks |
//!
//! Scalar coefficients are computed in f64 from the f32 sigmas the WebUI uses; latents stay f32.

mod build;
mod denoiser;
mod dpm_solver;
mod driver;
mod kdiff;
mod model_schedule;
mod ops;
mod plan;
mod registry;
mod restart;
mod schedules;
mod special;
mod timesteps;
mod unipc;

pub use denoiser::{Denoiser, ModelInput, OutputScalings};
pub use model_schedule::{BetaSchedule, ModelFamily, ModelSchedule, ModelScheduleConfig, Prediction, SigmaTable};
pub use plan::{Pass, SamplingPlan, ScheduleOptions, Start, hires_steps, img2img_steps};
pub use registry::{Family, SamplerInfo, SamplerSpec, Schedule, ScheduleInfo, all_samplers, all_schedules};
pub use schedules::compute_sigmas;

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

/// How classifier-free guidance must be combined for a sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guidance {
    /// The WebUI multiplies the CFG scale by this (DDIM CFG++: 1/12.5).
    pub cfg_scale_multiplier: f64,
    /// The sampler needs the unconditional prediction too ([`Sampler::next_with_uncond`]).
    pub needs_uncond: bool,
}

impl Default for Guidance {
    fn default() -> Self {
        Self {
            cfg_scale_multiplier: 1.0,
            needs_uncond: false,
        }
    }
}

/// Sampler parameters of a request (`None` = the WebUI's default for the sampler).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerParams {
    /// Ancestral/SDE noise amount; `None`: 1.0 for k-diffusion samplers (`eta_ancestral`), 0.0 for DDIM
    /// (`eta_ddim`). Ignored by samplers whose WebUI function takes no `eta`.
    pub eta: Option<f64>,
    /// Euler/Heun/DPM2 churn.
    pub s_churn: f64,
    pub s_tmin: f64,
    /// 0 means infinity, as in the WebUI.
    pub s_tmax: f64,
    /// Passed only to the samplers the WebUI passes it to (not Euler a, DPM adaptive, Restart, LCM).
    pub s_noise: f64,
    /// UniPC order (the WebUI's `uni_pc_order`, default 3).
    pub uni_pc_order: usize,
    /// UniPC `lower_order_final` (default true).
    pub uni_pc_lower_order_final: bool,
}

impl Default for SamplerParams {
    fn default() -> Self {
        Self {
            eta: None,
            s_churn: 0.0,
            s_tmin: 0.0,
            s_tmax: 0.0,
            s_noise: 1.0,
            uni_pc_order: 3,
            uni_pc_lower_order_final: true,
        }
    }
}

/// A sampler in progress.
pub trait Sampler: Send {
    /// Advance. `denoised` is `D(x, σ)` for the last [`Step::Evaluate`], `None` on the first call.
    fn next(&mut self, denoised: Option<Latents>) -> Result<Step, SamplerError>;

    /// Like [`Sampler::next`], also handing over the unconditional denoised prediction of the same
    /// evaluation (required when [`Sampler::guidance`] says `needs_uncond`; ignored otherwise).
    fn next_with_uncond(
        &mut self,
        denoised: Option<Latents>,
        uncond_denoised: Option<Latents>,
    ) -> Result<Step, SamplerError> {
        let _ = uncond_denoised;
        self.next(denoised)
    }

    /// (steps done, total steps) as the WebUI's progress counts them: the total is the WebUI's
    /// `state.sampling_steps` (steps, or `t_enc + 1` for img2img); one step is done per callback of the
    /// WebUI's sampling loop (the WebUI's `state.sampling_step` is the index of the last one).
    fn progress(&self) -> (usize, usize);

    /// The model timestep of the pending evaluation when the sampler fixes it (DDIM, PLMS, UniPC and
    /// DDIM CFG++ evaluate the UNet at the WebUI's timesteps); `None`: derive it from σ with
    /// [`Denoiser::model_input`].
    fn pending_timestep(&self) -> Option<f64> {
        None
    }

    /// How the WebUI combines classifier-free guidance for this sampler.
    fn guidance(&self) -> Guidance {
        Guidance::default()
    }
}
