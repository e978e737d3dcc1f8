//! The model's discrete DDPM noise schedule (betas → ᾱ → σ) and σ ↔ timestep as k-diffusion's
//! `DiscreteSchedule` (log-σ interpolation) and the WebUI's LCM denoiser compute them.
//!
//! Precision follows the WebUI: betas and ᾱ in f64 (LDM `register_schedule` uses NumPy float64), the ᾱ
//! buffer stored as f32 (`to_torch`), σ and log σ computed in f32 from it (k-diffusion buffers).

use std::sync::Arc;

use super::SamplerError;

/// How the betas are spaced (diffusers' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    /// `linspace(√β₀, √β₁, N)²` in f64: the LDM/WebUI "linear" schedule of every SD model.
    ScaledLinear,
    /// `linspace(β₀, β₁, N)`.
    Linear,
    /// Cosine ᾱ (diffusers `betas_for_alpha_bar`, max β 0.999), betas stored as f32 like diffusers.
    SquaredCosCapV2,
}

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    VPrediction,
}

/// Which of the WebUI's model-specific tables applies (Align Your Steps has one for SD1.x and one for SDXL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    Sd15,
    Sdxl,
}

/// The noise-schedule part of a model's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScheduleConfig {
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: BetaSchedule,
    pub prediction: Prediction,
    pub family: ModelFamily,
}

impl ModelScheduleConfig {
    /// SD 1.x/2.x base (ε): 1000 steps, scaled-linear 0.00085 → 0.012.
    pub fn sd15() -> Self {
        Self {
            num_train_timesteps: 1000,
            beta_start: 0.00085,
            beta_end: 0.012,
            beta_schedule: BetaSchedule::ScaledLinear,
            prediction: Prediction::Epsilon,
            family: ModelFamily::Sd15,
        }
    }

    /// SDXL: the same betas as SD 1.x (sgm `LegacyDDPMDiscretization`).
    pub fn sdxl() -> Self {
        Self {
            family: ModelFamily::Sdxl,
            ..Self::sd15()
        }
    }
}

/// A table of discrete σ levels (ascending) and the σ ↔ t maps over it.
#[derive(Debug, Clone)]
pub struct SigmaTable {
    sigmas: Vec<f32>,
    log_sigmas: Vec<f32>,
    /// `Some(skip)` for the WebUI's LCM denoiser: table entry k is model timestep `k·skip + skip − 1`,
    /// σ → t rounds to the nearest entry.
    lcm_skip: Option<usize>,
}

impl SigmaTable {
    fn from_alphas_cumprod(alphas_cumprod: &[f32], lcm_skip: Option<usize>) -> Self {
        let sigmas: Vec<f32> = alphas_cumprod.iter().map(|&a| ((1.0 - a) / a).sqrt()).collect();
        let log_sigmas = sigmas.iter().map(|s| s.ln()).collect();
        Self {
            sigmas,
            log_sigmas,
            lcm_skip,
        }
    }

    /// The σ levels, ascending (k-diffusion's `sigmas` buffer).
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }

    pub fn sigma_min(&self) -> f32 {
        self.sigmas[0]
    }

    pub fn sigma_max(&self) -> f32 {
        self.sigmas[self.sigmas.len() - 1]
    }

    /// The model timestep of σ (k-diffusion `sigma_to_t`; LCM: nearest entry's timestep).
    pub fn sigma_to_t(&self, sigma: f32) -> f64 {
        let log_sigma = sigma.ln();
        if let Some(skip) = self.lcm_skip {
            let mut best = 0;
            let mut best_dist = f32::INFINITY;
            for (i, &ls) in self.log_sigmas.iter().enumerate() {
                let dist = (log_sigma - ls).abs();
                if dist < best_dist {
                    best = i;
                    best_dist = dist;
                }
            }
            return (best * skip + skip - 1) as f64;
        }
        let n = self.log_sigmas.len();
        let last_le = self
            .log_sigmas
            .iter()
            .rposition(|&ls| log_sigma - ls >= 0.0)
            .unwrap_or(0);
        let low_idx = last_le.min(n - 2);
        let high_idx = low_idx + 1;
        let (low, high) = (self.log_sigmas[low_idx] as f64, self.log_sigmas[high_idx] as f64);
        let w = ((low - log_sigma as f64) / (low - high)).clamp(0.0, 1.0);
        (1.0 - w) * low_idx as f64 + w * high_idx as f64
    }

    /// σ at a (fractional) model timestep (k-diffusion `t_to_sigma`, LCM: the WebUI's override).
    pub fn t_to_sigma(&self, t: f64) -> f32 {
        let last = (self.sigmas.len() - 1) as f64;
        let t = match self.lcm_skip {
            Some(skip) => ((t - (skip - 1) as f64) / skip as f64) as f32 as f64,
            None => t as f32 as f64,
        };
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, last) };
        let (low, high) = (t.floor() as usize, t.ceil() as usize);
        let w = t - t.floor();
        let log_sigma = (1.0 - w) * self.log_sigmas[low] as f64 + w * self.log_sigmas[high] as f64;
        log_sigma.exp() as f32
    }

    /// `n` σ from σ_max to σ_min evenly spaced in timesteps, then 0 (k-diffusion `get_sigmas(n)`;
    /// LCM: between its first and last timestep).
    pub fn get_sigmas(&self, n: usize) -> Vec<f32> {
        let (start, end) = match self.lcm_skip {
            Some(_) => (
                self.sigma_to_t(self.sigma_max()) as f32,
                self.sigma_to_t(self.sigma_min()) as f32,
            ),
            None => ((self.sigmas.len() - 1) as f32, 0.0),
        };
        let mut out: Vec<f32> = linspace_f32(start, end, n)
            .into_iter()
            .map(|t| self.t_to_sigma(t as f64))
            .collect();
        out.push(0.0);
        out
    }
}

/// The model's schedule: ᾱ and the σ tables the WebUI's denoisers use.
#[derive(Debug, Clone)]
pub struct ModelSchedule {
    config: ModelScheduleConfig,
    alphas_cumprod_f64: Vec<f64>,
    alphas_cumprod: Vec<f32>,
    table: Arc<SigmaTable>,
    lcm_table: Arc<SigmaTable>,
}

impl ModelSchedule {
    pub fn new(config: &ModelScheduleConfig) -> Result<Self, SamplerError> {
        let n = config.num_train_timesteps;
        if !(100..=100_000).contains(&n) {
            return Err(SamplerError::InvalidParameter(format!(
                "num_train_timesteps {n} out of 100..=100000"
            )));
        }
        let ok_beta = |b: f64| b.is_finite() && b > 0.0 && b < 1.0;
        if config.beta_schedule != BetaSchedule::SquaredCosCapV2
            && !(ok_beta(config.beta_start) && ok_beta(config.beta_end))
        {
            return Err(SamplerError::InvalidParameter(
                "beta_start and beta_end must be in (0, 1)".into(),
            ));
        }
        let (alphas_cumprod_f64, alphas_cumprod) = alphas_cumprod(config);
        if alphas_cumprod.iter().any(|&a| !(a > 0.0 && a < 1.0)) {
            return Err(SamplerError::InvalidParameter(
                "the beta schedule gives ᾱ outside (0, 1)".into(),
            ));
        }
        let table = Arc::new(SigmaTable::from_alphas_cumprod(&alphas_cumprod, None));
        // The WebUI's LCMCompVisDenoiser: 50 "original" timesteps, every 20th from the end.
        let original = 50.min(n);
        let skip = n / original;
        let lcm_ac: Vec<f32> = (0..original).rev().map(|x| alphas_cumprod[n - 1 - x * skip]).collect();
        let lcm_table = Arc::new(SigmaTable::from_alphas_cumprod(&lcm_ac, Some(skip)));
        Ok(Self {
            config: config.clone(),
            alphas_cumprod_f64,
            alphas_cumprod,
            table,
            lcm_table,
        })
    }

    pub fn config(&self) -> &ModelScheduleConfig {
        &self.config
    }

    /// ᾱ as the model holds it (f32, as the WebUI's `model.alphas_cumprod`).
    pub fn alphas_cumprod(&self) -> &[f32] {
        &self.alphas_cumprod
    }

    /// ᾱ before the cast to f32.
    pub fn alphas_cumprod_f64(&self) -> &[f64] {
        &self.alphas_cumprod_f64
    }

    /// The σ table of k-diffusion's CompVis denoiser.
    pub fn table(&self) -> &Arc<SigmaTable> {
        &self.table
    }

    /// The σ table of the WebUI's LCM denoiser.
    pub fn lcm_table(&self) -> &Arc<SigmaTable> {
        &self.lcm_table
    }
}

fn alphas_cumprod(config: &ModelScheduleConfig) -> (Vec<f64>, Vec<f32>) {
    let n = config.num_train_timesteps;
    match config.beta_schedule {
        BetaSchedule::ScaledLinear | BetaSchedule::Linear => {
            let betas: Vec<f64> = match config.beta_schedule {
                BetaSchedule::ScaledLinear => linspace_f64(config.beta_start.sqrt(), config.beta_end.sqrt(), n)
                    .into_iter()
                    .map(|b| b * b)
                    .collect(),
                _ => linspace_f64(config.beta_start, config.beta_end, n),
            };
            let mut acc = 1.0f64;
            let ac: Vec<f64> = betas
                .iter()
                .map(|b| {
                    acc *= 1.0 - b;
                    acc
                })
                .collect();
            let ac32 = ac.iter().map(|&a| a as f32).collect();
            (ac, ac32)
        }
        BetaSchedule::SquaredCosCapV2 => {
            let alpha_bar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos().powi(2);
            // Float division of the step index (the integer-division bug of some ports gives β = 0).
            let betas: Vec<f32> = (0..n)
                .map(|i| {
                    let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                    (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                })
                .collect();
            let mut acc = 1.0f32;
            let ac32: Vec<f32> = betas
                .iter()
                .map(|b| {
                    acc *= 1.0 - b;
                    acc
                })
                .collect();
            (ac32.iter().map(|&a| a as f64).collect(), ac32)
        }
    }
}

/// `torch.linspace` in f64.
pub(crate) fn linspace_f64(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / (n - 1) as f64;
            let half = n / 2;
            (0..n)
                .map(|i| {
                    if i < half {
                        start + step * i as f64
                    } else {
                        end - step * (n - 1 - i) as f64
                    }
                })
                .collect()
        }
    }
}

/// `torch.linspace` in f32 (same halfway-symmetric formula as PyTorch's CPU kernel).
pub(crate) fn linspace_f32(start: f32, end: f32, n: usize) -> Vec<f32> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / (n - 1) as f32;
            let half = n / 2;
            (0..n)
                .map(|i| {
                    if i < half {
                        start + step * i as f32
                    } else {
                        end - step * (n - 1 - i) as f32
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd15_table_ends() {
        let m = ModelSchedule::new(&ModelScheduleConfig::sd15()).unwrap();
        let t = m.table();
        assert!((t.sigma_min() - 0.029168).abs() < 1e-5, "{}", t.sigma_min());
        assert!((t.sigma_max() - 14.614642).abs() < 1e-4, "{}", t.sigma_max());
        assert_eq!(t.sigma_to_t(t.sigma_max()), 999.0);
        assert_eq!(t.sigma_to_t(t.sigmas()[500]), 500.0);
        assert_eq!(t.t_to_sigma(500.0), t.sigmas()[500]);
    }

    #[test]
    fn lcm_table_quantizes() {
        let m = ModelSchedule::new(&ModelScheduleConfig::sd15()).unwrap();
        let l = m.lcm_table();
        assert_eq!(l.sigmas().len(), 50);
        assert_eq!(l.sigma_to_t(l.sigma_max()), 999.0);
        assert_eq!(l.sigma_to_t(l.sigma_min()), 19.0);
        assert_eq!(l.sigma_min(), m.table().sigmas()[19]);
    }

    #[test]
    fn cosine_betas_are_not_integer_divided() {
        let cfg = ModelScheduleConfig {
            beta_schedule: BetaSchedule::SquaredCosCapV2,
            ..ModelScheduleConfig::sd15()
        };
        let m = ModelSchedule::new(&cfg).unwrap();
        let ac = m.alphas_cumprod();
        assert!(ac[0] < 1.0 && ac[500] < 0.6 && ac[500] > 0.4, "{} {}", ac[0], ac[500]);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = ModelScheduleConfig {
            beta_end: 1.5,
            ..ModelScheduleConfig::sd15()
        };
        assert!(ModelSchedule::new(&bad).is_err());
        let bad = ModelScheduleConfig {
            num_train_timesteps: 3,
            ..ModelScheduleConfig::sd15()
        };
        assert!(ModelSchedule::new(&bad).is_err());
    }
}
