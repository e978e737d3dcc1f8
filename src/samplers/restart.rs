//! The WebUI's Restart sampler (`modules/sd_samplers_extra.py`, "Restart Sampling for Improving
//! Generative Processes", 2023): Heun steps, and from 20 steps on a Karras schedule with restart
//! segments that jump back from σ ≈ 0.1 to σ ≈ 2 with fresh noise.

use super::driver::Ctx;
use super::ops::{axpy, lincomb, randn, to_d};
use super::schedules::karras;
use super::{Latents, NoiseSource, SamplerError};

fn argmin_abs(sigmas: &[f32], key: f32) -> usize {
    let mut best = 0;
    let mut best_v = f32::INFINITY;
    for (i, &s) in sigmas.iter().enumerate() {
        let v = (s - key).abs();
        if v < best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

/// The (σ, σ_next) pairs the WebUI's `restart_sampler` walks for a schedule, with the automatic restart list.
pub(crate) fn restart_steps(sigmas: &[f32]) -> Vec<(f32, f32)> {
    let steps = sigmas.len() - 1;
    let mut sigmas = sigmas.to_vec();
    let mut restart: Option<(usize, usize, f32)> = None;
    if steps >= 20 {
        let (mut restart_steps, mut restart_times) = (9, 1);
        if steps >= 36 {
            restart_steps = steps / 4;
            restart_times = 2;
        }
        let (lo, hi) = (sigmas[sigmas.len() - 2] as f64, sigmas[0] as f64);
        sigmas = karras(steps - restart_steps * restart_times, lo, hi, 7.0);
        restart = Some((restart_steps + 1, restart_times, 2.0));
    }
    let restart_at = restart.map(|r| (argmin_abs(&sigmas, 0.1), r));
    let mut list = Vec::new();
    for i in 0..sigmas.len() - 1 {
        list.push((sigmas[i], sigmas[i + 1]));
        if let Some((idx, (n, times, max))) = restart_at
            && i + 1 == idx
        {
            let min_idx = i + 1;
            let max_idx = argmin_abs(&sigmas, max);
            if max_idx < min_idx {
                let mut sr = karras(n, sigmas[min_idx] as f64, sigmas[max_idx] as f64, 7.0);
                sr.pop();
                for _ in 0..times {
                    list.extend(sr.windows(2).map(|w| (w[0], w[1])));
                }
            }
        }
    }
    list
}

pub(crate) async fn restart(
    ctx: Ctx,
    mut x: Latents,
    sigmas: Vec<f32>,
    mut noise: Box<dyn NoiseSource>,
) -> Result<Latents, SamplerError> {
    let mut last: Option<f32> = None;
    for (old, new) in restart_steps(&sigmas) {
        match last {
            Some(last) if last < old => {
                let n = randn(noise.as_mut(), &x)?;
                let (o, l) = (old as f64, last as f64);
                axpy(&mut x, (o * o - l * l).sqrt() as f32, &n);
            }
            _ => {}
        }
        // heun_step
        let den = ctx.eval(&x, old as f64).await?;
        let d = to_d(&x, old, &den);
        ctx.step_done();
        let dt = new - old;
        if new == 0.0 {
            axpy(&mut x, dt, &d);
        } else {
            let mut x2 = x.clone();
            axpy(&mut x2, dt, &d);
            let den2 = ctx.eval(&x2, new as f64).await?;
            let d2 = to_d(&x2, new, &den2);
            axpy(&mut x, dt, &lincomb(0.5, &d, 0.5, &d2));
        }
        last = Some(new);
    }
    Ok(x)
}
