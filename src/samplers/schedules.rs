//! σ schedules exactly as the WebUI's `modules/sd_schedulers.py` and k-diffusion's `get_sigmas_*` compute
//! them (f32 results like the WebUI's tensors; f32 arithmetic where PyTorch uses it).

use super::model_schedule::linspace_f32;
use super::plan::ScheduleOptions;
use super::special::beta_ppf;
use super::{ModelFamily, SamplerError, Schedule, SigmaTable};

/// The WebUI's Align Your Steps tables (11 σ each).
const AYS_SD15: [f64; 11] = [
    14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029,
];
const AYS_SDXL: [f64; 11] = [
    14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029,
];

/// The σ list for `n` steps of `schedule` (`None`: the model's uniform timesteps), as the WebUI's
/// `KDiffusionSampler.get_sigmas` builds it before any "discard next to last sigma": `n + 1` values
/// (the DDIM schedule may give more, KL Optimal ends at σ_min instead of 0, as in the WebUI).
pub fn compute_sigmas(
    schedule: Option<Schedule>,
    n: usize,
    table: &SigmaTable,
    family: ModelFamily,
    opts: &ScheduleOptions,
) -> Result<Vec<f32>, SamplerError> {
    if n == 0 {
        return Err(SamplerError::InvalidParameter(
            "a schedule needs at least one step".into(),
        ));
    }
    let schedule = match schedule {
        None | Some(Schedule::Automatic) => return Ok(table.get_sigmas(n)),
        Some(s) => s,
    };
    let (m_min, m_max) = (table.sigma_min() as f64, table.sigma_max() as f64);
    let (mut sigma_min, mut sigma_max) = if opts.use_old_karras_scheduler_sigmas {
        (0.1, 10.0)
    } else {
        (m_min, m_max)
    };
    if let Some(v) = opts.sigma_min.filter(|&v| v != 0.0 && v != m_min) {
        sigma_min = v;
    }
    if let Some(v) = opts.sigma_max.filter(|&v| v != 0.0 && v != m_max) {
        sigma_max = v;
    }
    if !(sigma_min > 0.0 && sigma_max > sigma_min && sigma_max.is_finite()) {
        return Err(SamplerError::InvalidParameter(format!(
            "schedule needs 0 < sigma_min < sigma_max, got {sigma_min} and {sigma_max}"
        )));
    }
    let info = schedule.info();
    let rho = match opts.rho {
        Some(r) if info.default_rho != -1.0 && r != 0.0 && r != info.default_rho => r,
        _ => info.default_rho,
    };
    if info.default_rho != -1.0 && !(rho.is_finite() && rho > 0.0) {
        return Err(SamplerError::InvalidParameter(format!(
            "rho must be positive, got {rho}"
        )));
    }
    let sigmas = match schedule {
        Schedule::Automatic | Schedule::Uniform => table.get_sigmas(n),
        Schedule::Karras => karras(n, sigma_min, sigma_max, rho),
        Schedule::Exponential => exponential(n, sigma_min, sigma_max),
        Schedule::Polyexponential => polyexponential(n, sigma_min, sigma_max, rho),
        Schedule::SgmUniform => timestep_spaced(n, sigma_min, sigma_max, table, true),
        Schedule::Normal => timestep_spaced(n, sigma_min, sigma_max, table, false),
        Schedule::KlOptimal => kl_optimal(n, sigma_min, sigma_max),
        Schedule::AlignYourSteps => align_your_steps(n, family),
        Schedule::Simple => simple(n, table),
        Schedule::Ddim => ddim(n, table),
        Schedule::Beta => beta(n, sigma_min, sigma_max, opts.beta_alpha, opts.beta_beta)?,
    };
    Ok(sigmas)
}

/// k-diffusion `get_sigmas_karras` (ramp and power in f32 like PyTorch).
pub(crate) fn karras(n: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Vec<f32> {
    let min_inv_rho = sigma_min.powf(1.0 / rho) as f32;
    let max_inv_rho = sigma_max.powf(1.0 / rho) as f32;
    let rho32 = rho as f32;
    let mut out: Vec<f32> = linspace_f32(0.0, 1.0, n)
        .into_iter()
        .map(|r| (max_inv_rho + r * (min_inv_rho - max_inv_rho)).powf(rho32))
        .collect();
    out.push(0.0);
    out
}

/// k-diffusion `get_sigmas_exponential`.
fn exponential(n: usize, sigma_min: f64, sigma_max: f64) -> Vec<f32> {
    let mut out: Vec<f32> = linspace_f32(sigma_max.ln() as f32, sigma_min.ln() as f32, n)
        .into_iter()
        .map(f32::exp)
        .collect();
    out.push(0.0);
    out
}

/// k-diffusion `get_sigmas_polyexponential`.
fn polyexponential(n: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Vec<f32> {
    let span = (sigma_max.ln() - sigma_min.ln()) as f32;
    let log_min = sigma_min.ln() as f32;
    let rho32 = rho as f32;
    let mut out: Vec<f32> = linspace_f32(1.0, 0.0, n)
        .into_iter()
        .map(|r| (r.powf(rho32) * span + log_min).exp())
        .collect();
    out.push(0.0);
    out
}

/// The WebUI's `sgm_uniform` (`sgm`: n + 1 timesteps without the last) and `normal_scheduler`.
fn timestep_spaced(n: usize, sigma_min: f64, sigma_max: f64, table: &SigmaTable, sgm: bool) -> Vec<f32> {
    let start = table.sigma_to_t(sigma_max as f32) as f32;
    let end = table.sigma_to_t(sigma_min as f32) as f32;
    let ts = if sgm {
        let mut t = linspace_f32(start, end, n + 1);
        t.pop();
        t
    } else {
        linspace_f32(start, end, n)
    };
    let mut out: Vec<f32> = ts.into_iter().map(|t| table.t_to_sigma(t as f64)).collect();
    out.push(0.0);
    out
}

/// The WebUI's `kl_optimal` (f32 like its tensors; ends at σ_min, no appended zero).
fn kl_optimal(n: usize, sigma_min: f64, sigma_max: f64) -> Vec<f32> {
    let alpha_min = (sigma_min as f32).atan();
    let alpha_max = (sigma_max as f32).atan();
    (0..=n)
        .map(|i| {
            let f = i as f32 / n as f32;
            (f * alpha_min + (1.0 - f) * alpha_max).tan()
        })
        .collect()
}

/// The WebUI's `get_align_your_steps_sigmas`: the 11-σ table, log-linearly interpolated to `n` when n ≠ 11.
fn align_your_steps(n: usize, family: ModelFamily) -> Vec<f32> {
    let table = match family {
        ModelFamily::Sdxl => &AYS_SDXL,
        ModelFamily::Sd15 => &AYS_SD15,
    };
    let mut out: Vec<f32> = if n == table.len() {
        table.iter().map(|&s| s as f32).collect()
    } else {
        // np.interp over ys = log(reversed table) at xs = linspace(0, 1, 11), then reversed back.
        let k = table.len();
        let ys: Vec<f64> = table.iter().rev().map(|s| s.ln()).collect();
        let xs: Vec<f64> = (0..k).map(|i| i as f64 / (k - 1) as f64).collect();
        let new_xs = super::model_schedule::linspace_f64(0.0, 1.0, n);
        let mut v: Vec<f32> = new_xs.iter().map(|&x| interp(x, &xs, &ys).exp() as f32).collect();
        v.reverse();
        v
    };
    out.push(0.0);
    out
}

/// `np.interp` on increasing `xs`.
fn interp(x: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let last = xs.len() - 1;
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[last] {
        return ys[last];
    }
    let j = xs.partition_point(|&v| v <= x).clamp(1, last);
    let (x0, x1, y0, y1) = (xs[j - 1], xs[j], ys[j - 1], ys[j]);
    let slope = (y1 - y0) / (x1 - x0);
    slope * (x - x0) + y0
}

/// The WebUI's `simple_scheduler`: every (len/n)-th table σ from the top.
fn simple(n: usize, table: &SigmaTable) -> Vec<f32> {
    let sigmas = table.sigmas();
    let ss = sigmas.len() as f64 / n as f64;
    let mut out: Vec<f32> = (0..n)
        .map(|x| {
            let back = (x as f64 * ss) as usize;
            sigmas[sigmas.len() - 1 - back.min(sigmas.len() - 1)]
        })
        .collect();
    out.push(0.0);
    out
}

/// The WebUI's `ddim_scheduler`: table σ at 1, 1 + len//n, …, reversed (can give more than n steps).
fn ddim(n: usize, table: &SigmaTable) -> Vec<f32> {
    let sigmas = table.sigmas();
    let ss = (sigmas.len() / n).max(1);
    let mut out: Vec<f32> = (1..sigmas.len()).step_by(ss).map(|x| sigmas[x]).collect();
    out.reverse();
    out.push(0.0);
    out
}

/// The WebUI's `beta_scheduler` ("Beta Sampling is All You Need"): σ_min + ppf(1 − i/(n−1))·(σ_max − σ_min).
fn beta(n: usize, sigma_min: f64, sigma_max: f64, alpha: f64, beta: f64) -> Result<Vec<f32>, SamplerError> {
    if !(alpha > 0.0 && beta > 0.0 && alpha.is_finite() && beta.is_finite()) {
        return Err(SamplerError::InvalidParameter(format!(
            "beta schedule alpha/beta must be positive: {alpha}, {beta}"
        )));
    }
    let mut out: Vec<f32> = super::model_schedule::linspace_f64(0.0, 1.0, n)
        .into_iter()
        .map(|t| (sigma_min + beta_ppf(1.0 - t, alpha, beta) * (sigma_max - sigma_min)) as f32)
        .collect();
    out.push(0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::{ModelSchedule, ModelScheduleConfig};

    fn sd15() -> ModelSchedule {
        ModelSchedule::new(&ModelScheduleConfig::sd15()).unwrap()
    }

    #[test]
    fn every_schedule_has_the_right_length_and_decreases() {
        let m = sd15();
        let opts = ScheduleOptions::default();
        for info in crate::samplers::all_schedules() {
            for n in [1usize, 2, 7, 11, 30] {
                let s = compute_sigmas(Some(info.schedule), n, m.table(), ModelFamily::Sd15, &opts).unwrap();
                if info.schedule != Schedule::Ddim {
                    assert_eq!(s.len(), n + 1, "{} {n}", info.label);
                }
                assert!(s.windows(2).all(|w| w[0] >= w[1]), "{} {n}: {s:?}", info.label);
                assert!(s.iter().all(|v| v.is_finite()), "{} {n}", info.label);
            }
        }
    }

    #[test]
    fn rejects_bad_overrides() {
        let m = sd15();
        let opts = ScheduleOptions {
            sigma_min: Some(20.0),
            ..Default::default()
        };
        assert!(compute_sigmas(Some(Schedule::Karras), 10, m.table(), ModelFamily::Sd15, &opts).is_err());
        let opts = ScheduleOptions {
            rho: Some(-2.0),
            ..Default::default()
        };
        assert!(compute_sigmas(Some(Schedule::Karras), 10, m.table(), ModelFamily::Sd15, &opts).is_err());
        assert!(compute_sigmas(None, 0, m.table(), ModelFamily::Sd15, &ScheduleOptions::default()).is_err());
    }
}
