//! The WebUI's timestep samplers DDIM, DDIM CFG++ and PLMS (`modules/sd_samplers_timesteps_impl.py`).
//!
//! They run in the WebUI's variance-preserving scale `x_vp` and at its integer timesteps; each model call
//! `ε(x_vp, t)` becomes an evaluation at `x = x_vp / √ᾱ_t`, `σ_t = √((1 − ᾱ_t)/ᾱ_t)` with the timestep fixed
//! to `t`, and `ε = (x − D)/σ_t` (the UNet then sees `c_in·x = x_vp`, so the results are the WebUI's).
//! The final latents are returned in the WebUI's scale, `x_vp` at the last timestep's ᾱ.

use super::driver::Ctx;
use super::ops::{lincomb, randn, scale, to_d};
use super::{Latents, NoiseSource, SamplerError};

type R = Result<Latents, SamplerError>;

/// ε (and the unconditional ε when the sampler asked for it) of the model at `x_vp`, timestep `t`.
pub(crate) async fn model_eps(
    ctx: &Ctx,
    alphas_cumprod: &[f32],
    x_vp: &Latents,
    t: usize,
) -> Result<(Latents, Option<Latents>), SamplerError> {
    let a = alphas_cumprod[t] as f64;
    let sigma = ((1.0 - a) / a).sqrt();
    let x = scale(x_vp, (1.0 / a.sqrt()) as f32);
    let r = ctx.eval_full(&x, sigma, Some(t as f64)).await?;
    let eps = to_d(&x, sigma as f32, &r.denoised);
    let eps_uncond = r.uncond.map(|u| to_d(&x, sigma as f32, &u));
    Ok((eps, eps_uncond))
}

/// `alphas[i]`, `alphas_prev[i]` of the WebUI (ᾱ at timesteps[i] and at the previous timestep, ᾱ[0] first).
fn alphas(ac: &[f32], timesteps: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let a: Vec<f64> = timesteps.iter().map(|&t| ac[t] as f64).collect();
    let prev: Vec<f64> = std::iter::once(ac[0] as f64)
        .chain(
            timesteps[..timesteps.len().saturating_sub(1)]
                .iter()
                .map(|&t| ac[t] as f64),
        )
        .collect();
    (a, prev)
}

/// DDIM (`cfg_pp`: DDIM CFG++, the direction term uses the unconditional ε).
pub(crate) async fn ddim(
    ctx: Ctx,
    mut x: Latents,
    alphas_cumprod: std::sync::Arc<Vec<f32>>,
    timesteps: Vec<usize>,
    eta: f64,
    cfg_pp: bool,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let (a, a_prev) = alphas(&alphas_cumprod, &timesteps);
    for i in 0..timesteps.len().saturating_sub(1) {
        let index = timesteps.len() - 1 - i;
        let (e_t, e_u) = model_eps(&ctx, &alphas_cumprod, &x, timesteps[index]).await?;
        let (a_t, a_p) = (a[index], a_prev[index]);
        let sigma_t = eta * ((1.0 - a_p) / (1.0 - a_t) * (1.0 - a_t / a_p)).sqrt();
        let sqrt_one_minus_at = (1.0 - a_t).sqrt() as f32;
        let sqrt_at = a_t.sqrt() as f32;
        let pred_x0 = ndarray::Zip::from(&x)
            .and(&e_t)
            .map_collect(|&x, &e| (x - sqrt_one_minus_at * e) / sqrt_at);
        let dir_eps = if cfg_pp {
            e_u.ok_or_else(|| SamplerError::Protocol("DDIM CFG++ needs the unconditional prediction".into()))?
        } else {
            e_t
        };
        let dir = (1.0 - a_p - sigma_t * sigma_t).sqrt();
        x = lincomb(a_p.sqrt() as f32, &pred_x0, dir as f32, &dir_eps);
        if sigma_t != 0.0 {
            let n = randn(noise.as_mut(), &x)?;
            x.zip_mut_with(&n, |x, &n| *x += sigma_t as f32 * n);
        }
        ctx.step_done();
    }
    Ok(x)
}

/// PLMS (pseudo linear multistep, with a pseudo improved Euler first step).
pub(crate) async fn plms(
    ctx: Ctx,
    mut x: Latents,
    alphas_cumprod: std::sync::Arc<Vec<f32>>,
    timesteps: Vec<usize>,
) -> R {
    let (a, a_prev) = alphas(&alphas_cumprod, &timesteps);
    let x_prev_of = |x: &Latents, e: &Latents, index: usize| {
        let (a_t, a_p) = (a[index], a_prev[index]);
        let (s1, sa) = ((1.0 - a_t).sqrt() as f32, a_t.sqrt() as f32);
        let pred_x0 = ndarray::Zip::from(x).and(e).map_collect(|&x, &e| (x - s1 * e) / sa);
        lincomb(a_p.sqrt() as f32, &pred_x0, (1.0 - a_p).sqrt() as f32, e)
    };
    let mut old_eps: Vec<Latents> = Vec::new();
    for i in 0..timesteps.len().saturating_sub(1) {
        let index = timesteps.len() - 1 - i;
        let t_next = timesteps[index.saturating_sub(1)];
        let (e_t, _) = model_eps(&ctx, &alphas_cumprod, &x, timesteps[index]).await?;
        let e_prime = match old_eps.len() {
            0 => {
                let x_prev = x_prev_of(&x, &e_t, index);
                let (e_next, _) = model_eps(&ctx, &alphas_cumprod, &x_prev, t_next).await?;
                lincomb(0.5, &e_t, 0.5, &e_next)
            }
            1 => lincomb(1.5, &e_t, -0.5, &old_eps[0]),
            2 => {
                let (o1, o2) = (&old_eps[1], &old_eps[0]);
                ndarray::Zip::from(&e_t)
                    .and(o1)
                    .and(o2)
                    .map_collect(|&e, &a, &b| (23.0 * e - 16.0 * a + 5.0 * b) / 12.0)
            }
            _ => {
                let n = old_eps.len();
                let (o1, o2, o3) = (&old_eps[n - 1], &old_eps[n - 2], &old_eps[n - 3]);
                ndarray::Zip::from(&e_t)
                    .and(o1)
                    .and(o2)
                    .and(o3)
                    .map_collect(|&e, &a, &b, &c| (55.0 * e - 59.0 * a + 37.0 * b - 9.0 * c) / 24.0)
            }
        };
        x = x_prev_of(&x, &e_prime, index);
        old_eps.push(e_t);
        if old_eps.len() >= 4 {
            old_eps.remove(0);
        }
        ctx.step_done();
    }
    Ok(x)
}
