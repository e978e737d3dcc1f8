//! UniPC as the WebUI runs it (`modules/models/diffusion/uni_pc/uni_pc.py` through
//! `sd_samplers_timesteps_impl.unipc`): data prediction, multistep, B(h) = h ("bh1"), time-uniform
//! steps over the discrete VP schedule with piecewise-linear log α, corrector on all but the last step.
//!
//! Model calls happen at continuous times t, i.e. UNet timestep `(t − 1/N)·1000` (not an integer); each is
//! an evaluation at `x = x_vp/α_t`, `σ = σ_t/α_t` with that timestep fixed, and the data prediction is D.

use super::driver::Ctx;
use super::model_schedule::linspace_f32;
use super::ops::{axpy, lincomb, scale};
use super::{Latents, SamplerError};

type R = Result<Latents, SamplerError>;

/// The WebUI's `NoiseScheduleVP('discrete', alphas_cumprod)`.
pub(crate) struct NoiseScheduleVp {
    t_array: Vec<f64>,
    log_alpha: Vec<f64>,
}

impl NoiseScheduleVp {
    pub fn new(alphas_cumprod: &[f32]) -> Self {
        let n = alphas_cumprod.len();
        let t_array = linspace_f32(0.0, 1.0, n + 1)[1..].iter().map(|&t| t as f64).collect();
        let log_alpha = alphas_cumprod.iter().map(|&a| 0.5 * (a as f64).ln()).collect();
        Self { t_array, log_alpha }
    }

    pub fn total_n(&self) -> usize {
        self.t_array.len()
    }

    /// log α_t: piecewise linear in t, extrapolated with the end segments (`interpolate_fn`).
    pub fn log_alpha(&self, t: f64) -> f64 {
        let xs = &self.t_array;
        let k = xs.len();
        let j = xs.partition_point(|&v| v < t).clamp(1, k - 1);
        let (x0, x1, y0, y1) = (xs[j - 1], xs[j], self.log_alpha[j - 1], self.log_alpha[j]);
        y0 + (t - x0) * (y1 - y0) / (x1 - x0)
    }

    pub fn alpha(&self, t: f64) -> f64 {
        self.log_alpha(t).exp()
    }

    pub fn std(&self, t: f64) -> f64 {
        (1.0 - (2.0 * self.log_alpha(t)).exp()).sqrt()
    }

    pub fn lambda(&self, t: f64) -> f64 {
        let l = self.log_alpha(t);
        l - 0.5 * (1.0 - (2.0 * l).exp()).ln()
    }
}

/// Solves `a · x = b` (n ≤ 4) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Result<Vec<f64>, SamplerError> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        if a[piv][col] == 0.0 || !a[piv][col].is_finite() {
            return Err(SamplerError::InvalidParameter(
                "UniPC: singular coefficient matrix".into(),
            ));
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot[col];
            for (v, p) in a[row][col..].iter_mut().zip(&pivot[col..]) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Ok(x)
}

struct UniPc<'a> {
    ctx: &'a Ctx,
    ns: NoiseScheduleVp,
}

impl UniPc<'_> {
    /// The data prediction x₀(x_vp, t) = D.
    async fn model_fn(&self, x: &Latents, t: f32) -> R {
        let t64 = t as f64;
        let alpha = self.ns.alpha(t64);
        let sigma = self.ns.std(t64) / alpha;
        let t_input = (t - 1.0 / self.ns.total_n() as f32) * 1000.0;
        let xk = scale(x, (1.0 / alpha) as f32);
        Ok(self.ctx.eval_full(&xk, sigma, Some(t_input as f64)).await?.denoised)
    }

    /// `multistep_uni_pc_bh_update` with predict_x0, variant bh1.
    async fn update(
        &self,
        x: &Latents,
        model_prev: &[Latents],
        t_prev: &[f32],
        t: f32,
        order: usize,
        use_corrector: bool,
    ) -> Result<(Latents, Option<Latents>), SamplerError> {
        let ns = &self.ns;
        let n = model_prev.len();
        let (t_prev_0, t64) = (t_prev[n - 1] as f64, t as f64);
        let lambda_prev_0 = ns.lambda(t_prev_0);
        let h = ns.lambda(t64) - lambda_prev_0;
        let model_prev_0 = &model_prev[n - 1];
        let (sigma_prev_0, sigma_t) = (ns.std(t_prev_0), ns.std(t64));
        let alpha_t = ns.alpha(t64);

        let mut rks = Vec::with_capacity(order);
        let mut d1s = Vec::with_capacity(order);
        for i in 1..order {
            let rk = (ns.lambda(t_prev[n - 1 - i] as f64) - lambda_prev_0) / h;
            rks.push(rk);
            d1s.push(lincomb(
                (1.0 / rk) as f32,
                &model_prev[n - 1 - i],
                -(1.0 / rk) as f32,
                model_prev_0,
            ));
        }
        rks.push(1.0);

        let hh = -h;
        let h_phi_1 = hh.exp_m1();
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial = 1.0f64;
        let b_h = hh;
        let mut rmat = Vec::with_capacity(order);
        let mut b = Vec::with_capacity(order);
        for i in 1..=order {
            rmat.push(rks.iter().map(|r| r.powi(i as i32 - 1)).collect::<Vec<f64>>());
            b.push(h_phi_k * factorial / b_h);
            factorial *= (i + 1) as f64;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }

        let x_t_ = lincomb(
            (sigma_t / sigma_prev_0) as f32,
            x,
            -(alpha_t * h_phi_1) as f32,
            model_prev_0,
        );
        let mut x_t = x_t_.clone();
        if !d1s.is_empty() {
            let rhos_p = if order == 2 {
                vec![0.5]
            } else {
                let sub: Vec<Vec<f64>> = rmat[..order - 1].iter().map(|r| r[..order - 1].to_vec()).collect();
                solve(sub, b[..order - 1].to_vec())?
            };
            for (rho, d1) in rhos_p.iter().zip(&d1s) {
                axpy(&mut x_t, -(alpha_t * b_h * rho) as f32, d1);
            }
        }
        if !use_corrector {
            return Ok((x_t, None));
        }
        let rhos_c = if order == 1 { vec![0.5] } else { solve(rmat, b)? };
        let model_t = self.model_fn(&x_t, t).await?;
        let mut out = x_t_;
        for (rho, d1) in rhos_c.iter().zip(&d1s) {
            axpy(&mut out, -(alpha_t * b_h * rho) as f32, d1);
        }
        let d1_t = lincomb(1.0, &model_t, -1.0, model_prev_0);
        axpy(&mut out, -(alpha_t * b_h * rhos_c[rhos_c.len() - 1]) as f32, &d1_t);
        Ok((out, Some(model_t)))
    }
}

/// UniPC over `steps` time-uniform steps from `t_start` (txt2img: 1; img2img: the WebUI's off-by-one start)
/// to 1/N. `order` must not exceed `steps` (the caller clamps it; the WebUI 1.10 raises an assertion).
pub(crate) async fn unipc(
    ctx: Ctx,
    mut x: Latents,
    alphas_cumprod: std::sync::Arc<Vec<f32>>,
    steps: usize,
    t_start: Option<f32>,
    order: usize,
    lower_order_final: bool,
) -> R {
    let ns = NoiseScheduleVp::new(&alphas_cumprod);
    let t_0 = 1.0 / ns.total_n() as f32;
    let t_t = t_start.unwrap_or(1.0);
    let ts = linspace_f32(t_t, t_0, steps + 1);
    let u = UniPc { ctx: &ctx, ns };
    let mut model_prev = vec![u.model_fn(&x, ts[0]).await?];
    let mut t_prev = vec![ts[0]];
    for (init_order, &t) in ts.iter().enumerate().take(order).skip(1) {
        let (nx, model_x) = u.update(&x, &model_prev, &t_prev, t, init_order, true).await?;
        x = nx;
        let model_x = match model_x {
            Some(m) => m,
            None => u.model_fn(&x, t).await?,
        };
        ctx.step_done();
        model_prev.push(model_x);
        t_prev.push(t);
    }
    for (step, &t) in ts.iter().enumerate().skip(order) {
        let step_order = if lower_order_final {
            order.min(steps + 1 - step)
        } else {
            order
        };
        let use_corrector = step != steps;
        let (nx, model_x) = u.update(&x, &model_prev, &t_prev, t, step_order, use_corrector).await?;
        x = nx;
        ctx.step_done();
        model_prev.remove(0);
        t_prev.remove(0);
        t_prev.push(t);
        if step < steps {
            let m = match model_x {
                Some(m) => m,
                None => u.model_fn(&x, t).await?,
            };
            model_prev.push(m);
        } else if let Some(last) = model_prev.last().cloned() {
            model_prev.push(last);
        }
    }
    Ok(x)
}
