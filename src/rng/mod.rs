//! Seeds and noise exactly as the AUTOMATIC1111 WebUI makes them.
//!
//! * [`Generator`]: one seeded `torch.randn` stream, from any of the WebUI's three sources
//!   ([`RngSource`]): `GPU` (torch on CUDA: Philox4x32-10, [`CudaGenerator`]), `CPU` (torch on the CPU:
//!   MT19937, [`CpuGenerator`]) and `NV` (the WebUI's NumPy port of the CUDA generator, [`NvGenerator`]).
//! * [`ImageRng`]: the WebUI's `ImageRNG` for one batch — per-image generators for the batch's seeds,
//!   variation seeds (slerp), "resize seed from", eta noise seed delta; its first `next_noise()` is the
//!   starting noise and later ones are the samplers' `randn_like` noise ([`NoiseSource`]).
//! * [`BrownianTreeNoise`]: k-diffusion's `BrownianTreeNoiseSampler` over torchsde's `BrownianTree`,
//!   one tree per image seed, for the SDE samplers ([`SdeNoise`]).
//! * [`seeds`]: seed -1, batch seed lists, torch's mapping of negative seeds.
//!
//! # Use for one batch (what processing.py does)
//! ```ignore
//! let (all_seeds, all_subseeds) = seeds::all_seeds(fixed_seed(req.seed), fixed_seed(req.subseed), strength, n);
//! let batch_seeds: Vec<u64> = all_seeds[range].iter().map(|&s| seeds::torch_seed(s)).collect();
//! let mut rng = ImageRng::new(ImageRngConfig { subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w,
//!     eta_noise_seed_delta, ..ImageRngConfig::new(RandnSettings::new(source), [4, h / 8, w / 8], batch_seeds.clone()) })?;
//! let x = rng.next_noise();                      // starting noise (txt2img) / img2img noise
//! let sde = BrownianTreeNoise::from_sigmas(settings, &batch_seeds, [4, h / 8, w / 8], &sigmas)?; // SDE samplers
//! // hand `Box::new(rng)` (NoiseSource) and `Box::new(sde)` (SdeNoise) to the sampler
//! ```
//! Hires fix makes a new `ImageRng` at the second pass's latent size with the same seeds.
//!
//! # Exactness (goldens in tests/fixtures/rng, scripts in scripts/goldens and scripts/gpu)
//! * CPU source: bit-exact with `torch.randn` (torch 2.11) for both of torch's kernels ([`CpuKernel`]),
//!   tensors of 16+ elements and the scalar double path below 16 with its cached second value.
//! * NV source: bit-exact with the WebUI's rng_philox.py.
//! * GPU source: the same Philox stream and launch layout as torch on CUDA (bit-exact integers); the
//!   float32 Box-Muller differs from CUDA's `logf`/`__sincosf` by a few ulps. Against the NV port it
//!   agrees to a mean of 8e-8 and a maximum of about 2e-5 (where the float32 uniform `u` is near 1).
//! * ImageRng: bit-exact with the WebUI's ImageRNG where no variation seed is involved; slerp to ~1e-6.
//! * Brownian tree: bit-exact with k-diffusion + torchsde when the normals are (CPU, NV), except that
//!   the final division uses a correctly rounded `sqrt` (as CUDA does; torch's CPU `sqrt` is 1 ulp off
//!   on some values), so CPU results agree to < 1e-6.
//!
//! [`NoiseSource`]: crate::samplers::NoiseSource
//! [`SdeNoise`]: crate::samplers::SdeNoise

mod avx_mathfun;
mod brownian;
mod cpu;
mod cuda;
mod fma;
mod generator;
mod image_rng;
mod mt19937;
mod nv;
mod parallel;
mod philox;
mod pyround;
mod seed_sequence;
pub mod seeds;
mod slerp;

#[cfg(test)]
mod fixtures;

pub use brownian::{BrownianTreeNoise, SigmaTransform};
pub use cpu::{CpuGenerator, CpuKernel};
pub use cuda::{CudaGenerator, GpuProfile};
pub use generator::{Generator, RandnSettings};
pub use image_rng::{ImageRng, ImageRngConfig};
pub use mt19937::Mt19937;
pub use nv::NvGenerator;
pub use parallel::default_threads;
pub use seeds::random_seed;
pub use slerp::slerp;

/// Largest tensor (in elements) this module will allocate in one piece: 2^28 floats = 1 GiB.
/// Callers bound shapes far below this; it only keeps a bad shape from exhausting memory.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// Errors of the rng module.
#[derive(Debug, thiserror::Error)]
pub enum RngError {
    #[error("unknown random number source {0:?}; valid sources: GPU, CPU, NV")]
    UnknownSource(String),
    #[error("a batch needs at least one seed")]
    NoSeeds,
    #[error("noise of {0} elements is larger than the limit of {MAX_ELEMENTS}")]
    TooLarge(u128),
    #[error("invalid noise shape {0:?}: every dimension must be at least 1")]
    EmptyShape(Vec<usize>),
    #[error("subseed strength must be a finite number, got {0}")]
    InvalidStrength(f64),
    #[error("invalid sigma range [{min}, {max}] for the Brownian tree: {why}")]
    InvalidSigmas { min: f32, max: f32, why: &'static str },
}

/// The WebUI's "Random number generator source" setting (`randn_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum RngSource {
    /// torch.randn on CUDA (the WebUI default).
    #[default]
    #[serde(rename = "GPU")]
    Gpu,
    /// torch.randn on the CPU.
    #[serde(rename = "CPU")]
    Cpu,
    /// The WebUI's NumPy port of the CUDA generator: GPU numbers on any device.
    #[serde(rename = "NV")]
    Nv,
}

impl RngSource {
    /// The option value as the WebUI writes it ("GPU", "CPU", "NV"); the infotext's `RNG:` field
    /// carries it when it is not "GPU".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gpu => "GPU",
            Self::Cpu => "CPU",
            Self::Nv => "NV",
        }
    }
}

impl std::fmt::Display for RngSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RngSource {
    type Err = RngError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "GPU" => Ok(Self::Gpu),
            "CPU" => Ok(Self::Cpu),
            "NV" => Ok(Self::Nv),
            _ => Err(RngError::UnknownSource(s.to_owned())),
        }
    }
}

/// Product of `dims`, or an error when it exceeds [`MAX_ELEMENTS`].
pub(crate) fn element_count(dims: &[usize]) -> Result<usize, RngError> {
    let n = dims
        .iter()
        .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
        .unwrap_or(u128::MAX);
    if n > MAX_ELEMENTS as u128 {
        return Err(RngError::TooLarge(n));
    }
    Ok(n as usize)
}

pub(crate) fn check_elements(n: usize) -> Result<(), RngError> {
    element_count(&[n]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names() {
        for s in [RngSource::Gpu, RngSource::Cpu, RngSource::Nv] {
            assert_eq!(s.as_str().parse::<RngSource>().ok(), Some(s));
            assert_eq!(serde_json::to_string(&s).ok(), Some(format!("\"{}\"", s.as_str())));
        }
        assert_eq!("nv".parse::<RngSource>().ok(), Some(RngSource::Nv));
        assert!("TPU".parse::<RngSource>().is_err());
    }

    #[test]
    fn element_limits() {
        assert_eq!(element_count(&[2, 4, 64, 64]).ok(), Some(32768));
        assert!(element_count(&[usize::MAX, usize::MAX, 3]).is_err());
        assert!(element_count(&[MAX_ELEMENTS, 2]).is_err());
    }
}
