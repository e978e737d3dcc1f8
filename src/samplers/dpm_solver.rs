//! k-diffusion's `DPMSolver`: DPM fast (fixed steps) and DPM adaptive (PID step-size control).
//!
//! The solver's times and coefficients are 0-dim f32 tensors in the WebUI, and DPM adaptive feeds them back
//! through its step-size controller, so the scalar arithmetic here is f32 too, operation for operation.

use super::driver::Ctx;
use super::kdiff::ancestral_step;
use super::ops::{axpy, lincomb, randn, to_d};
use super::{Latents, NoiseSource, SamplerError};

type R = Result<Latents, SamplerError>;

fn sigma(t: f32) -> f32 {
    (-t).exp()
}

fn t_of(sigma: f32) -> f32 {
    -sigma.ln()
}

/// ε at (x, t) as `DPMSolver.eps`: (x − D(x, σ(t))) / σ(t).
async fn eps(ctx: &Ctx, x: &Latents, t: f32) -> R {
    let s = sigma(t);
    let d = ctx.eval(x, s as f64).await?;
    Ok(to_d(x, s, &d))
}

/// The stages of one DPM-Solver step with the ε values they share (the solver's `eps_cache`).
struct Stages<'a> {
    ctx: &'a Ctx,
    x: &'a Latents,
    t: f32,
    eps: Latents,
    eps_r1: Option<(f32, Latents)>,
}

impl<'a> Stages<'a> {
    async fn new(ctx: &'a Ctx, x: &'a Latents, t: f32) -> Result<Self, SamplerError> {
        let e = eps(ctx, x, t).await?;
        Ok(Self {
            ctx,
            x,
            t,
            eps: e,
            eps_r1: None,
        })
    }

    fn step_1(&self, t_next: f32) -> Latents {
        let h = t_next - self.t;
        let mut x = self.x.clone();
        axpy(&mut x, -(sigma(t_next) * h.exp_m1()), &self.eps);
        x
    }

    async fn eps_r1(&mut self, r1: f32, h: f32) -> Result<Latents, SamplerError> {
        if let Some((cached_r1, e)) = &self.eps_r1
            && *cached_r1 == r1
        {
            return Ok(e.clone());
        }
        let s1 = self.t + r1 * h;
        let mut u1 = self.x.clone();
        axpy(&mut u1, -(sigma(s1) * (r1 * h).exp_m1()), &self.eps);
        let e = eps(self.ctx, &u1, s1).await?;
        self.eps_r1 = Some((r1, e.clone()));
        Ok(e)
    }

    async fn step_2(&mut self, t_next: f32, r1: f32) -> R {
        let h = t_next - self.t;
        let e1 = self.eps_r1(r1, h).await?;
        let mut x = self.step_1(t_next);
        let diff = lincomb(1.0, &e1, -1.0, &self.eps);
        axpy(&mut x, -(sigma(t_next) / (2.0 * r1) * h.exp_m1()), &diff);
        Ok(x)
    }

    async fn step_3(&mut self, t_next: f32) -> R {
        let (r1, r2) = ((1.0f64 / 3.0) as f32, (2.0f64 / 3.0) as f32);
        let h = t_next - self.t;
        let e1 = self.eps_r1(r1, h).await?;
        let s2 = self.t + r2 * h;
        let mut u2 = self.x.clone();
        axpy(&mut u2, -(sigma(s2) * (r2 * h).exp_m1()), &self.eps);
        let diff1 = lincomb(1.0, &e1, -1.0, &self.eps);
        let r2_r1 = (2.0f64 / 3.0 / (1.0 / 3.0)) as f32;
        axpy(
            &mut u2,
            -(sigma(s2) * r2_r1 * ((r2 * h).exp_m1() / (r2 * h) - 1.0)),
            &diff1,
        );
        let e2 = eps(self.ctx, &u2, s2).await?;
        let mut x = self.step_1(t_next);
        let diff2 = lincomb(1.0, &e2, -1.0, &self.eps);
        axpy(&mut x, -(sigma(t_next) / r2 * (h.exp_m1() / h - 1.0)), &diff2);
        Ok(x)
    }
}

/// k-diffusion `sample_dpm_fast` with `n` model evaluations between σ_max and σ_min.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn dpm_fast(
    ctx: Ctx,
    mut x: Latents,
    sigma_min: f32,
    sigma_max: f32,
    n: usize,
    eta: f64,
    s_noise: f64,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    let (t_start, t_end) = (t_of(sigma_max), t_of(sigma_min));
    let m = n / 3 + 1;
    let ts = super::model_schedule::linspace_f32(t_start, t_end, m + 1);
    let orders: Vec<usize> = if n.is_multiple_of(3) {
        let mut o = vec![3; m.saturating_sub(2)];
        o.extend([2, 1]);
        o
    } else {
        let mut o = vec![3; m - 1];
        o.push(n % 3);
        o
    };
    for (i, &order) in orders.iter().enumerate() {
        let (t, t_next) = (ts[i], ts[i + 1]);
        let (t_next_, su) = if eta != 0.0 {
            let (sd, _) = ancestral_step(sigma(t) as f64, sigma(t_next) as f64, eta);
            let t_next_ = t_end.min(t_of(sd as f32));
            let (a, b) = (sigma(t_next), sigma(t_next_));
            (t_next_, (a * a - b * b).sqrt())
        } else {
            (t_next, 0.0)
        };
        let mut st = Stages::new(&ctx, &x, t).await?;
        ctx.step_done();
        let next = match order {
            1 => st.step_1(t_next_),
            2 => st.step_2(t_next_, 0.5).await?,
            _ => st.step_3(t_next_).await?,
        };
        x = next;
        if eta != 0.0 {
            let nz = randn(noise.as_mut(), &x)?;
            axpy(&mut x, su * s_noise as f32, &nz);
        }
    }
    Ok(x)
}

/// k-diffusion's `PIDStepSizeController` (I-controller with the WebUI's defaults).
struct Pid {
    h: f64,
    b: [f64; 3],
    accept_safety: f64,
    errs: Option<[f64; 3]>,
}

impl Pid {
    fn new(h: f64, order: f64) -> Self {
        let (p, i, d) = (0.0, 1.0, 0.0);
        Self {
            h,
            b: [(p + i + d) / order, -(p + 2.0 * d) / order, d / order],
            accept_safety: 0.81,
            errs: None,
        }
    }

    fn propose_step(&mut self, error: f64) -> bool {
        let inv = 1.0 / (error + 1e-8);
        let errs = self.errs.get_or_insert([inv; 3]);
        errs[0] = inv;
        let factor = errs[0].powf(self.b[0]) * errs[1].powf(self.b[1]) * errs[2].powf(self.b[2]);
        let factor = 1.0 + (factor - 1.0).atan();
        let accept = factor >= self.accept_safety;
        if accept {
            errs[2] = errs[1];
            errs[1] = errs[0];
        }
        self.h *= factor;
        accept
    }
}

/// k-diffusion `sample_dpm_adaptive` (order 3, rtol 0.05, atol 0.0078, h_init 0.05, as the WebUI calls it).
/// The number of evaluations is not known in advance; progress counts the solver's iterations.
pub(crate) async fn dpm_adaptive(
    ctx: Ctx,
    mut x: Latents,
    sigma_min: f32,
    sigma_max: f32,
    eta: f64,
    mut noise: Box<dyn NoiseSource>,
) -> R {
    const MAX_ITERATIONS: usize = 10_000;
    let (rtol, atol) = (0.05f32, 0.0078f32);
    let (t_start, t_end) = (t_of(sigma_max), t_of(sigma_min));
    if t_end <= t_start {
        return Err(SamplerError::InvalidParameter(
            "DPM adaptive needs sigma_max > sigma_min".into(),
        ));
    }
    let mut s = t_start;
    let mut x_prev = x.clone();
    let mut pid = Pid::new(0.05, if eta != 0.0 { 1.5 } else { 3.0 });
    let mut iterations = 0;
    while (s as f64) < t_end as f64 - 1e-5 {
        iterations += 1;
        if iterations > MAX_ITERATIONS {
            return Err(SamplerError::InvalidParameter("DPM adaptive did not converge".into()));
        }
        let t = t_end.min(s + pid.h as f32);
        let (t_, su) = if eta != 0.0 {
            let (sd, _) = ancestral_step(sigma(s) as f64, sigma(t) as f64, eta);
            let t_ = t_end.min(t_of(sd as f32));
            let (a, b) = (sigma(t), sigma(t_));
            (t_, (a * a - b * b).sqrt())
        } else {
            (t, 0.0)
        };
        let mut st = Stages::new(&ctx, &x, s).await?;
        let x_low = st.step_2(t_, (1.0f64 / 3.0) as f32).await?;
        let x_high = st.step_3(t_).await?;
        let mut sum = 0.0f64;
        ndarray::Zip::from(&x_low)
            .and(&x_high)
            .and(&x_prev)
            .for_each(|&lo, &hi, &prev| {
                let delta = atol.max(rtol * lo.abs().max(prev.abs()));
                let e = ((lo - hi) / delta) as f64;
                sum += e * e;
            });
        let error = (sum.sqrt() as f32 / (x.len() as f64).sqrt() as f32) as f64;
        if pid.propose_step(error) {
            x_prev = x_low;
            x = x_high;
            if eta != 0.0 {
                let nz = randn(noise.as_mut(), &x)?;
                axpy(&mut x, su, &nz);
            }
            s = t;
        }
        ctx.step_done();
    }
    Ok(x)
}
