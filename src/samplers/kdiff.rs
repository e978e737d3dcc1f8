//! k-diffusion's fixed-step samplers (`k_diffusion/sampling.py`, 0.1.1.post1) and the WebUI's LCM sampler,
//! line for line, with the model call replaced by an awaited evaluation.

use super::driver::Ctx;
use super::ops::{axpy, euler_step, lincomb, randn, scale, sde, to_d};
use super::special::lms_coeff;
use super::{Latents, NoiseSource, SamplerError, SdeNoise};

/// Parameters as the WebUI passes them to the k-diffusion function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KParams {
    pub eta: f64,
    pub s_noise: f64,
    pub s_churn: f64,
    pub s_tmin: f64,
    pub s_tmax: f64,
}

type R = Result<Latents, SamplerError>;

fn f64s(sigmas: &[f32]) -> Vec<f64> {
    sigmas.iter().map(|&s| s as f64).collect()
}

/// k-diffusion `get_ancestral_step`: (σ_down, σ_up). In f64: when σ_to ≪ σ_from, σ_down comes from a
/// cancellation that leaves the WebUI's f32 value only a few digits (e.g. 2 steps); this is the exact value.
pub(crate) fn ancestral_step(from: f64, to: f64, eta: f64) -> (f64, f64) {
    if eta == 0.0 {
        return (to, 0.0);
    }
    let up = to.min(eta * (to * to * (from * from - to * to) / (from * from)).sqrt());
    let down = (to * to - up * up).sqrt();
    (down, up)
}

/// The churn of Karras et al. Algorithm 2 (Euler, Heun, DPM2): raises σ to σ̂ with fresh noise.
/// k-diffusion draws the noise on every step; it is only drawn here when churn can use it.
fn churn(x: &mut Latents, s: &[f64], i: usize, p: &KParams, noise: &mut dyn NoiseSource) -> Result<f64, SamplerError> {
    let n = (s.len() - 1) as f64;
    let gamma = if p.s_tmin <= s[i] && s[i] <= p.s_tmax {
        (p.s_churn / n).min(std::f64::consts::SQRT_2 - 1.0)
    } else {
        0.0
    };
    let eps = if p.s_churn > 0.0 { Some(randn(noise, x)?) } else { None };
    let sigma_hat = s[i] * (gamma + 1.0);
    if gamma > 0.0
        && let Some(eps) = eps
    {
        axpy(
            x,
            (p.s_noise * (sigma_hat * sigma_hat - s[i] * s[i]).sqrt()) as f32,
            &eps,
        );
    }
    Ok(sigma_hat)
}

pub(crate) async fn euler(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let sigma_hat = churn(&mut x, &s, i, &p, noise.as_mut())?;
        let d = ctx.eval(&x, sigma_hat).await?;
        ctx.step_done();
        x = euler_step(&x, &d, sigma_hat as f32, (s[i + 1] - sigma_hat) as f32);
    }
    Ok(x)
}

pub(crate) async fn euler_ancestral(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let d = ctx.eval(&x, s[i]).await?;
        let (down, up) = ancestral_step(s[i], s[i + 1], p.eta);
        ctx.step_done();
        x = euler_step(&x, &d, s[i] as f32, (down - s[i]) as f32);
        if s[i + 1] > 0.0 {
            let n = randn(noise.as_mut(), &x)?;
            axpy(&mut x, (p.s_noise * up) as f32, &n);
        }
    }
    Ok(x)
}

pub(crate) async fn heun(ctx: Ctx, mut x: Latents, sigmas: Vec<f32>, p: KParams, mut noise: Box<dyn NoiseSource>) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let sigma_hat = churn(&mut x, &s, i, &p, noise.as_mut())?;
        let den = ctx.eval(&x, sigma_hat).await?;
        let d = to_d(&x, sigma_hat as f32, &den);
        ctx.step_done();
        let dt = (s[i + 1] - sigma_hat) as f32;
        if s[i + 1] == 0.0 {
            axpy(&mut x, dt, &d);
        } else {
            let mut x2 = x.clone();
            axpy(&mut x2, dt, &d);
            let den2 = ctx.eval(&x2, s[i + 1]).await?;
            let d2 = to_d(&x2, s[i + 1] as f32, &den2);
            let d_prime = lincomb(0.5, &d, 0.5, &d2);
            axpy(&mut x, dt, &d_prime);
        }
    }
    Ok(x)
}

pub(crate) async fn dpm_2(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let sigma_hat = churn(&mut x, &s, i, &p, noise.as_mut())?;
        let den = ctx.eval(&x, sigma_hat).await?;
        let d = to_d(&x, sigma_hat as f32, &den);
        ctx.step_done();
        if s[i + 1] == 0.0 {
            axpy(&mut x, (s[i + 1] - sigma_hat) as f32, &d);
        } else {
            let sigma_mid = ((sigma_hat.ln() + s[i + 1].ln()) * 0.5).exp();
            let mut x2 = x.clone();
            axpy(&mut x2, (sigma_mid - sigma_hat) as f32, &d);
            let den2 = ctx.eval(&x2, sigma_mid).await?;
            let d2 = to_d(&x2, sigma_mid as f32, &den2);
            axpy(&mut x, (s[i + 1] - sigma_hat) as f32, &d2);
        }
    }
    Ok(x)
}

pub(crate) async fn dpm_2_ancestral(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        let (down, up) = ancestral_step(s[i], s[i + 1], p.eta);
        ctx.step_done();
        let d = to_d(&x, s[i] as f32, &den);
        if down == 0.0 {
            axpy(&mut x, (down - s[i]) as f32, &d);
        } else {
            let sigma_mid = ((s[i].ln() + down.ln()) * 0.5).exp();
            let mut x2 = x.clone();
            axpy(&mut x2, (sigma_mid - s[i]) as f32, &d);
            let den2 = ctx.eval(&x2, sigma_mid).await?;
            let d2 = to_d(&x2, sigma_mid as f32, &den2);
            axpy(&mut x, (down - s[i]) as f32, &d2);
            let n = randn(noise.as_mut(), &x)?;
            axpy(&mut x, (p.s_noise * up) as f32, &n);
        }
    }
    Ok(x)
}

pub(crate) async fn lms(ctx: Ctx, mut x: Latents, sigmas: Vec<f32>) -> R {
    const ORDER: usize = 4;
    let s = f64s(&sigmas);
    let mut ds: Vec<Latents> = Vec::with_capacity(ORDER + 1);
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        ds.push(to_d(&x, s[i] as f32, &den));
        if ds.len() > ORDER {
            ds.remove(0);
        }
        ctx.step_done();
        let cur_order = (i + 1).min(ORDER);
        for (j, d) in ds.iter().rev().enumerate().take(cur_order) {
            axpy(&mut x, lms_coeff(cur_order, &s, i, j) as f32, d);
        }
    }
    Ok(x)
}

pub(crate) async fn dpmpp_2s_ancestral(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        let (down, up) = ancestral_step(s[i], s[i + 1], p.eta);
        ctx.step_done();
        if down == 0.0 {
            x = euler_step(&x, &den, s[i] as f32, (down - s[i]) as f32);
        } else {
            let (t, t_next) = (-s[i].ln(), -down.ln());
            let h = t_next - t;
            let sm = t + 0.5 * h;
            let x2 = lincomb(
                ((-sm).exp() / (-t).exp()) as f32,
                &x,
                (-(-h * 0.5).exp_m1()) as f32,
                &den,
            );
            let den2 = ctx.eval(&x2, (-sm).exp()).await?;
            x = lincomb(
                ((-t_next).exp() / (-t).exp()) as f32,
                &x,
                (-(-h).exp_m1()) as f32,
                &den2,
            );
        }
        if s[i + 1] > 0.0 {
            let n = randn(noise.as_mut(), &x)?;
            axpy(&mut x, (p.s_noise * up) as f32, &n);
        }
    }
    Ok(x)
}

pub(crate) async fn dpmpp_sde(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn SdeNoise>,
) -> R {
    const R_: f64 = 0.5;
    let s = f64s(&sigmas);
    let sigma_fn = |t: f64| (-t).exp();
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        ctx.step_done();
        if s[i + 1] == 0.0 {
            x = euler_step(&x, &den, s[i] as f32, (s[i + 1] - s[i]) as f32);
            continue;
        }
        let (t, t_next) = (-s[i].ln(), -s[i + 1].ln());
        let h = t_next - t;
        let sm = t + h * R_;
        let fac = 1.0 / (2.0 * R_);
        // Step 1
        let (sd, su) = ancestral_step(sigma_fn(t), sigma_fn(sm), p.eta);
        let s_ = -sd.ln();
        let mut x2 = lincomb(
            (sigma_fn(s_) / sigma_fn(t)) as f32,
            &x,
            (-(t - s_).exp_m1()) as f32,
            &den,
        );
        let n = sde(noise.as_mut(), sigma_fn(t), sigma_fn(sm), &x)?;
        axpy(&mut x2, (p.s_noise * su) as f32, &n);
        let den2 = ctx.eval(&x2, sigma_fn(sm)).await?;
        // Step 2
        let (sd, su) = ancestral_step(sigma_fn(t), sigma_fn(t_next), p.eta);
        let t_next_ = -sd.ln();
        let den_d = lincomb((1.0 - fac) as f32, &den, fac as f32, &den2);
        x = lincomb(
            (sigma_fn(t_next_) / sigma_fn(t)) as f32,
            &x,
            (-(t - t_next_).exp_m1()) as f32,
            &den_d,
        );
        let n = sde(noise.as_mut(), sigma_fn(t), sigma_fn(t_next), &x)?;
        axpy(&mut x, (p.s_noise * su) as f32, &n);
    }
    Ok(x)
}

pub(crate) async fn dpmpp_2m(ctx: Ctx, mut x: Latents, sigmas: Vec<f32>) -> R {
    let s = f64s(&sigmas);
    let mut old: Option<Latents> = None;
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        ctx.step_done();
        let (t, t_next) = (-s[i].ln(), -s[i + 1].ln());
        let h = t_next - t;
        let a = ((-t_next).exp() / (-t).exp()) as f32;
        let b = (-(-h).exp_m1()) as f32;
        x = match &old {
            Some(old) if s[i + 1] != 0.0 => {
                let h_last = t - (-s[i - 1].ln());
                let r = h_last / h;
                let d_d = lincomb((1.0 + 1.0 / (2.0 * r)) as f32, &den, -(1.0 / (2.0 * r)) as f32, old);
                lincomb(a, &x, b, &d_d)
            }
            _ => lincomb(a, &x, b, &den),
        };
        old = Some(den);
    }
    Ok(x)
}

pub(crate) async fn dpmpp_2m_sde(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    heun: bool,
    mut noise: Box<dyn SdeNoise>,
) -> R {
    let s = f64s(&sigmas);
    let mut old: Option<Latents> = None;
    let mut h_last = 0.0f64;
    let mut h = 0.0f64;
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        ctx.step_done();
        if s[i + 1] == 0.0 {
            x = den.clone();
        } else {
            let (t, sn) = (-s[i].ln(), -s[i + 1].ln());
            h = sn - t;
            let eta_h = p.eta * h;
            let em = -(-h - eta_h).exp_m1();
            x = lincomb((s[i + 1] / s[i] * (-eta_h).exp()) as f32, &x, em as f32, &den);
            if let Some(old) = &old {
                let r = h_last / h;
                let coef = if heun {
                    (em / (-h - eta_h) + 1.0) * (1.0 / r)
                } else {
                    0.5 * em * (1.0 / r)
                };
                let diff = lincomb(1.0, &den, -1.0, old);
                axpy(&mut x, coef as f32, &diff);
            }
            if p.eta != 0.0 {
                let n = sde(noise.as_mut(), s[i], s[i + 1], &x)?;
                axpy(
                    &mut x,
                    (s[i + 1] * (-(-2.0 * eta_h).exp_m1()).sqrt() * p.s_noise) as f32,
                    &n,
                );
            }
        }
        old = Some(den);
        h_last = h;
    }
    Ok(x)
}

pub(crate) async fn dpmpp_3m_sde(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    p: KParams,
    mut noise: Box<dyn SdeNoise>,
) -> R {
    let s = f64s(&sigmas);
    let (mut den_1, mut den_2): (Option<Latents>, Option<Latents>) = (None, None);
    let (mut h_1, mut h_2): (Option<f64>, Option<f64>) = (None, None);
    let mut h = 0.0f64;
    for i in 0..s.len() - 1 {
        let den = ctx.eval(&x, s[i]).await?;
        ctx.step_done();
        if s[i + 1] == 0.0 {
            x = den.clone();
        } else {
            let (t, sn) = (-s[i].ln(), -s[i + 1].ln());
            h = sn - t;
            let h_eta = h * (p.eta + 1.0);
            x = lincomb((-h_eta).exp() as f32, &x, (-(-h_eta).exp_m1()) as f32, &den);
            let phi_2 = (-h_eta).exp_m1() / h_eta + 1.0;
            match (&den_1, &den_2, h_1, h_2) {
                (Some(d1p), Some(d2p), Some(h1), Some(h2)) => {
                    let (r0, r1) = (h1 / h, h2 / h);
                    let d1_0 = lincomb((1.0 / r0) as f32, &den, -(1.0 / r0) as f32, d1p);
                    let d1_1 = lincomb((1.0 / r1) as f32, d1p, -(1.0 / r1) as f32, d2p);
                    let diff = lincomb(1.0, &d1_0, -1.0, &d1_1);
                    let mut d1 = d1_0.clone();
                    axpy(&mut d1, (r0 / (r0 + r1)) as f32, &diff);
                    let d2 = scale(&diff, (1.0 / (r0 + r1)) as f32);
                    let phi_3 = phi_2 / h_eta - 0.5;
                    axpy(&mut x, phi_2 as f32, &d1);
                    axpy(&mut x, -phi_3 as f32, &d2);
                }
                (Some(d1p), _, Some(h1), _) => {
                    let r = h1 / h;
                    let d = lincomb((1.0 / r) as f32, &den, -(1.0 / r) as f32, d1p);
                    axpy(&mut x, phi_2 as f32, &d);
                }
                _ => {}
            }
            if p.eta != 0.0 {
                let n = sde(noise.as_mut(), s[i], s[i + 1], &x)?;
                axpy(
                    &mut x,
                    (s[i + 1] * (-(-2.0 * h * p.eta).exp_m1()).sqrt() * p.s_noise) as f32,
                    &n,
                );
            }
        }
        den_2 = den_1.take();
        den_1 = Some(den);
        h_2 = h_1;
        h_1 = Some(h);
    }
    Ok(x)
}

/// The WebUI's `sample_lcm` (`modules/sd_samplers_lcm.py`).
pub(crate) async fn lcm(ctx: Ctx, mut x: Latents, sigmas: Vec<f32>, mut noise: Box<dyn NoiseSource>) -> R {
    let s = f64s(&sigmas);
    for i in 0..s.len() - 1 {
        x = ctx.eval(&x, s[i]).await?;
        ctx.step_done();
        if s[i + 1] > 0.0 {
            let n = randn(noise.as_mut(), &x)?;
            axpy(&mut x, s[i + 1] as f32, &n);
        }
    }
    Ok(x)
}
