//! Element-wise latent arithmetic (f32, one pass each) and checked noise draws.

use ndarray::Zip;

use super::driver::{check_shape, dims};
use super::{Latents, NoiseSource, SamplerError, SdeNoise};

/// `(x − D) / σ` (k-diffusion `to_d`).
pub(crate) fn to_d(x: &Latents, sigma: f32, denoised: &Latents) -> Latents {
    Zip::from(x).and(denoised).map_collect(|&x, &d| (x - d) / sigma)
}

/// `x += a · y`.
pub(crate) fn axpy(x: &mut Latents, a: f32, y: &Latents) {
    Zip::from(x).and(y).for_each(|x, &y| *x += y * a);
}

/// `a · x + b · y`.
pub(crate) fn lincomb(a: f32, x: &Latents, b: f32, y: &Latents) -> Latents {
    Zip::from(x).and(y).map_collect(|&x, &y| a * x + b * y)
}

/// `x + (x − D)/σ · dt` (an Euler step, fused).
pub(crate) fn euler_step(x: &Latents, denoised: &Latents, sigma: f32, dt: f32) -> Latents {
    Zip::from(x)
        .and(denoised)
        .map_collect(|&x, &d| x + (x - d) / sigma * dt)
}

/// `x · a`.
pub(crate) fn scale(x: &Latents, a: f32) -> Latents {
    x.mapv(|v| v * a)
}

/// One `torch.randn_like(x)` from the job's generator, shape-checked.
pub(crate) fn randn(noise: &mut dyn NoiseSource, like: &Latents) -> Result<Latents, SamplerError> {
    let n = noise.randn_like(like);
    check_shape("noise", &n, dims(like))?;
    Ok(n)
}

/// One `noise_sampler(σ, σ_next)` from the job's Brownian tree, shape-checked.
pub(crate) fn sde(
    noise: &mut dyn SdeNoise,
    sigma: f64,
    sigma_next: f64,
    like: &Latents,
) -> Result<Latents, SamplerError> {
    let n = noise.noise(sigma as f32, sigma_next as f32);
    check_shape("SDE noise", &n, dims(like))?;
    Ok(n)
}
