//! From a request's steps (and img2img strength) to the σ list or timesteps a sampler walks, as the WebUI's
//! `get_sigmas` / `get_timesteps` / `setup_img2img_steps` / `sample_img2img` compute them.

use std::sync::Arc;

use super::registry::{Family, SamplerSpec};
use super::{Denoiser, Latents, ModelSchedule, SamplerError, SigmaTable, compute_sigmas};

/// WebUI settings that shape schedules (all default to the WebUI's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleOptions {
    /// `sigma_min` setting (None or 0: the model's).
    pub sigma_min: Option<f64>,
    /// `sigma_max` setting (None or 0: the model's).
    pub sigma_max: Option<f64>,
    /// `rho` setting (None or 0: the schedule's default, 7 for Karras, 1 for Polyexponential).
    pub rho: Option<f64>,
    pub always_discard_next_to_last_sigma: bool,
    /// `use_old_karras_scheduler_sigmas`: σ range 0.1…10.
    pub use_old_karras_scheduler_sigmas: bool,
    /// `sgm_noise_multiplier`: txt2img starts from noise·√(1+σ₀²) instead of noise·σ₀.
    pub sgm_noise_multiplier: bool,
    /// `img2img_fix_steps`: img2img runs exactly `steps` steps.
    pub img2img_fix_steps: bool,
    /// Beta schedule shape (`beta_dist_alpha`, `beta_dist_beta`, both 0.6).
    pub beta_alpha: f64,
    pub beta_beta: f64,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        Self {
            sigma_min: None,
            sigma_max: None,
            rho: None,
            always_discard_next_to_last_sigma: false,
            use_old_karras_scheduler_sigmas: false,
            sgm_noise_multiplier: false,
            img2img_fix_steps: false,
            beta_alpha: 0.6,
            beta_beta: 0.6,
        }
    }
}

/// Which sampling pass a job runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pass {
    Txt2Img {
        steps: usize,
    },
    /// img2img with `denoising_strength` (`img2img_fix_steps` decides how steps are spread).
    Img2Img {
        steps: usize,
        denoising_strength: f64,
    },
    /// The hires-fix second pass: exactly `steps` steps at `denoising_strength`.
    HiresSecondPass {
        steps: usize,
        denoising_strength: f64,
    },
}

/// How the pass starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// Unit-variance noise (the WebUI's `x` of `sample`).
    Txt2Img { noise: Latents },
    /// The encoded image and unit-variance noise of the same shape.
    Img2Img { init_latent: Latents, noise: Latents },
}

/// The WebUI's `setup_img2img_steps`: (total steps of the schedule, t_enc). The sampler then runs
/// `t_enc + 1` steps (k-diffusion) from the schedule's index `steps − t_enc − 1`.
/// `fix_steps` (setting `img2img_fix_steps`, always on for the hires pass) runs exactly `steps` steps.
pub fn img2img_steps(steps: usize, denoising_strength: f64, fix_steps: bool) -> Result<(usize, usize), SamplerError> {
    if steps == 0 {
        return Err(SamplerError::InvalidParameter("steps must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&denoising_strength) {
        return Err(SamplerError::InvalidParameter(format!(
            "denoising_strength must be within 0..=1, got {denoising_strength}"
        )));
    }
    let strength = denoising_strength.min(0.999);
    if fix_steps {
        if denoising_strength <= 0.0 {
            return Err(SamplerError::InvalidParameter(
                "denoising_strength 0 leaves no steps".into(),
            ));
        }
        Ok(((steps as f64 / strength) as usize, steps - 1))
    } else {
        Ok((steps, (strength * steps as f64) as usize))
    }
}

/// The hires-fix second pass: `img2img_steps` with `steps` given, as the WebUI's `sample_hr_pass` calls it.
pub fn hires_steps(hr_steps: usize, denoising_strength: f64) -> Result<(usize, usize), SamplerError> {
    img2img_steps(hr_steps, denoising_strength, true)
}

/// Upper bound on steps (bounds allocations; the timestep samplers allow at most the training steps).
const MAX_STEPS: usize = 10_000;

#[derive(Debug, Clone)]
pub(crate) enum Walk {
    /// k-diffusion/LCM: the full σ list and the part sampled (equal for txt2img).
    Sigmas { full: Vec<f32>, sched: Vec<f32> },
    /// Timestep samplers: the timesteps sampled and, for img2img, the one the image is noised to.
    Timesteps {
        timesteps: Vec<usize>,
        noised_at: Option<usize>,
    },
}

/// Everything a sampler for one pass of one job needs besides noise.
#[derive(Debug, Clone)]
pub struct SamplingPlan {
    pub(crate) spec: SamplerSpec,
    pub(crate) walk: Walk,
    pub(crate) table: Arc<SigmaTable>,
    pub(crate) alphas_cumprod: Arc<Vec<f32>>,
    pub(crate) denoiser: Denoiser,
    pub(crate) webui_steps: usize,
    pub(crate) is_img2img: bool,
    pub(crate) sgm_noise_multiplier: bool,
}

impl SamplerSpec {
    /// The schedule of a pass (σ list, or timesteps for DDIM/PLMS/UniPC), the WebUI's way.
    pub fn plan(
        &self,
        model: &ModelSchedule,
        pass: Pass,
        opts: &ScheduleOptions,
    ) -> Result<SamplingPlan, SamplerError> {
        let info = self.info();
        let (steps, t_enc) = match pass {
            Pass::Txt2Img { steps } => (steps, None),
            Pass::Img2Img {
                steps,
                denoising_strength,
            } => {
                let (s, t) = img2img_steps(steps, denoising_strength, opts.img2img_fix_steps)?;
                (s, Some(t))
            }
            Pass::HiresSecondPass {
                steps,
                denoising_strength,
            } => {
                let (s, t) = hires_steps(steps, denoising_strength)?;
                (s, Some(t))
            }
        };
        if steps == 0 || steps > MAX_STEPS {
            return Err(SamplerError::InvalidParameter(format!(
                "steps must be within 1..={MAX_STEPS}, got {steps}"
            )));
        }
        let discard = info.discard_next_to_last_sigma || opts.always_discard_next_to_last_sigma;
        let steps_plus = steps + usize::from(discard);
        let table = match info.family {
            Family::Lcm => model.lcm_table().clone(),
            _ => model.table().clone(),
        };
        let walk = match info.family {
            Family::KDiffusion | Family::Lcm => {
                let mut full = compute_sigmas(
                    self.effective_schedule(),
                    steps_plus,
                    &table,
                    model.config().family,
                    opts,
                )?;
                if discard && full.len() >= 3 {
                    let last = full.len() - 1;
                    full.remove(last - 1);
                }
                let sched = match t_enc {
                    None => full.clone(),
                    Some(t_enc) => {
                        let start = steps
                            .checked_sub(t_enc + 1)
                            .filter(|&s| s + 1 < full.len())
                            .ok_or_else(|| {
                                SamplerError::InvalidParameter(
                                    "img2img strength leaves no steps in this schedule".into(),
                                )
                            })?;
                        full[start..].to_vec()
                    }
                };
                Walk::Sigmas { full, sched }
            }
            Family::Timesteps => {
                let n = model.alphas_cumprod().len();
                if steps_plus > n {
                    return Err(SamplerError::InvalidParameter(format!(
                        "{} allows at most {n} steps, got {steps_plus}",
                        info.name
                    )));
                }
                let all: Vec<usize> = (0..n).step_by(n / steps_plus).map(|t| (t + 1).min(n - 1)).collect();
                match t_enc {
                    None => Walk::Timesteps {
                        timesteps: all,
                        noised_at: None,
                    },
                    Some(t_enc) => {
                        let noised_at = *all.get(t_enc).ok_or_else(|| {
                            SamplerError::InvalidParameter("img2img strength leaves no timesteps".into())
                        })?;
                        if info.algo == super::registry::Algo::UniPc && t_enc == 0 {
                            return Err(SamplerError::InvalidParameter(
                                "UniPC needs at least one img2img step (raise denoising_strength or steps)".into(),
                            ));
                        }
                        Walk::Timesteps {
                            timesteps: all[..t_enc].to_vec(),
                            noised_at: Some(noised_at),
                        }
                    }
                }
            }
        };
        let denoiser = Denoiser::new(table.clone(), model.config().prediction, info.family == Family::Lcm);
        Ok(SamplingPlan {
            spec: *self,
            walk,
            table,
            alphas_cumprod: Arc::new(model.alphas_cumprod().to_vec()),
            denoiser,
            webui_steps: t_enc.map_or(steps, |t| t + 1),
            is_img2img: t_enc.is_some(),
            sgm_noise_multiplier: opts.sgm_noise_multiplier,
        })
    }
}

impl SamplingPlan {
    pub fn spec(&self) -> &SamplerSpec {
        &self.spec
    }

    /// The model wrapper the WebUI uses with this sampler (σ → UNet inputs, UNet output → D).
    pub fn denoiser(&self) -> &Denoiser {
        &self.denoiser
    }

    /// The σ list sampled (after discarding the penultimate σ and the img2img cut); empty for timestep samplers.
    pub fn sigmas(&self) -> &[f32] {
        match &self.walk {
            Walk::Sigmas { sched, .. } => sched,
            Walk::Timesteps { .. } => &[],
        }
    }

    /// The WebUI's integer timesteps for DDIM/PLMS/UniPC (ascending, as the WebUI holds them); empty otherwise.
    pub fn timesteps(&self) -> &[usize] {
        match &self.walk {
            Walk::Timesteps { timesteps, .. } => timesteps,
            Walk::Sigmas { .. } => &[],
        }
    }

    /// The total of the WebUI's progress (`state.sampling_steps`).
    pub fn progress_total(&self) -> usize {
        self.webui_steps
    }

    /// (σ_min, σ_max) of the Brownian tree the WebUI builds for SDE samplers: over the whole schedule
    /// (`sigmas[sigmas > 0].min()`, `sigmas.max()`), also in img2img.
    pub fn brownian_range(&self) -> Option<(f32, f32)> {
        let Walk::Sigmas { full, .. } = &self.walk else {
            return None;
        };
        let min = full.iter().copied().filter(|&s| s > 0.0).fold(f32::INFINITY, f32::min);
        let max = full.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (min.is_finite() && max.is_finite()).then_some((min, max))
    }

    /// Whether this pass is img2img-like (the sampler then needs [`Start::Img2Img`]).
    pub fn is_img2img(&self) -> bool {
        self.is_img2img
    }

    pub(crate) fn table(&self) -> &SigmaTable {
        &self.table
    }
}
