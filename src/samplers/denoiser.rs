//! The model-side half of an evaluation: σ → (c_in, timestep) for the UNet, and the UNet output → D.
//!
//! As k-diffusion's `DiscreteEpsDDPMDenoiser` (ε: `D = x − σ·ε`) and `DiscreteVDDPMDenoiser`
//! (v: `D = x/(σ²+1) − σ/√(σ²+1)·v`), both with `c_in = 1/√(σ²+1)`, and for LCM the WebUI's
//! `LCMCompVisDenoiser` (nearest of 50 timesteps, consistency boundary scalings with σ_data 0.5 on top).

use std::sync::Arc;

use super::{Latents, Prediction, SamplerError, SigmaTable};

/// What the UNet gets besides the conditioning: its input is `c_in · x` at `timestep`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInput {
    pub c_in: f32,
    pub timestep: f64,
}

/// `D = c_skip · x + c_out · model_output` (linear in the output, so CFG may be combined before or after).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputScalings {
    pub c_skip: f32,
    pub c_out: f32,
}

/// The WebUI's model wrapper for a job's sampler.
#[derive(Debug, Clone)]
pub struct Denoiser {
    table: Arc<SigmaTable>,
    prediction: Prediction,
    lcm: bool,
}

impl Denoiser {
    pub(crate) fn new(table: Arc<SigmaTable>, prediction: Prediction, lcm: bool) -> Self {
        Self { table, prediction, lcm }
    }

    /// The σ table this denoiser maps timesteps with.
    pub fn table(&self) -> &SigmaTable {
        &self.table
    }

    /// UNet input scaling and timestep for an evaluation at `sigma`; `timestep` overrides the σ → t
    /// mapping (pass [`super::Sampler::pending_timestep`]).
    pub fn model_input(&self, sigma: f32, timestep: Option<f64>) -> ModelInput {
        let s = sigma as f64;
        let c_in = (1.0 / (s * s + 1.0).sqrt()) as f32;
        let timestep = timestep.unwrap_or_else(|| self.table.sigma_to_t(sigma));
        ModelInput { c_in, timestep }
    }

    /// How to turn the (guidance-combined) UNet output at `sigma`, `timestep` into `D(x, σ)`.
    pub fn output_scalings(&self, sigma: f32, timestep: f64) -> OutputScalings {
        let s = sigma as f64;
        let (c_skip, c_out) = match self.prediction {
            Prediction::Epsilon => (1.0, -s),
            Prediction::VPrediction => (1.0 / (s * s + 1.0), -s / (s * s + 1.0).sqrt()),
        };
        if !self.lcm {
            return OutputScalings {
                c_skip: c_skip as f32,
                c_out: c_out as f32,
            };
        }
        // D_lcm = c_out'·D + c_skip'·x with the scaled timestep 10·t and σ_data 0.5.
        let st = 10.0 * timestep;
        let sd2 = 0.25;
        let skip2 = sd2 / (st * st + sd2);
        let out2 = st / (st * st + sd2).sqrt();
        OutputScalings {
            c_skip: (out2 * c_skip + skip2) as f32,
            c_out: (out2 * c_out) as f32,
        }
    }

    /// `D(x, σ)` from the UNet output.
    pub fn denoise(
        &self,
        x: &Latents,
        sigma: f32,
        timestep: f64,
        model_output: &Latents,
    ) -> Result<Latents, SamplerError> {
        if x.dim() != model_output.dim() {
            return Err(SamplerError::Protocol(format!(
                "model output shape {:?} differs from the latents' {:?}",
                model_output.dim(),
                x.dim()
            )));
        }
        let OutputScalings { c_skip, c_out } = self.output_scalings(sigma, timestep);
        let mut d = model_output * c_out;
        d.zip_mut_with(x, |d, &x| *d += c_skip * x);
        Ok(d)
    }
}
