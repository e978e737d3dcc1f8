//! Summaries of timed samples, and the timed loop every part uses.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Order statistics of a set of samples. Percentiles interpolate linearly between the closest ranks
/// (NumPy's default), so the Python baselines compute the same numbers from the same samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p50: f64,
    pub p95: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no samples; NaN samples are ignored.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let p50 = percentile(&v, 50.0);
        Some(Summary {
            n: v.len(),
            median: p50,
            p50,
            p95: percentile(&v, 95.0),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

/// The `q`-th percentile of sorted, non-empty `v` (linear interpolation).
pub fn percentile(v: &[f64], q: f64) -> f64 {
    if v.len() == 1 {
        return v[0];
    }
    let rank = q.clamp(0.0, 100.0) / 100.0 * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

/// Seconds as milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Call `f` `warmup` times untimed, then up to `iters` times; stop early (after at least one timed
/// call) once `budget` has passed since the first timed call. Returns what each timed call returned.
pub fn timed_loop<T, E>(
    warmup: usize,
    iters: usize,
    budget: Option<Duration>,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<Vec<T>, E> {
    for _ in 0..warmup {
        f()?;
    }
    let started = Instant::now();
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        out.push(f()?);
        if budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [50, 95]) = [2.5, 3.85]
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.n, 4);
        assert!((s.median - 2.5).abs() < 1e-12);
        assert!((s.p95 - 3.85).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p95), (7.0, 7.0));
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn the_loop_warms_up_then_stops_at_its_budget() {
        let mut calls = 0;
        let out: Vec<usize> = timed_loop(2, 5, None, || -> Result<usize, ()> {
            calls += 1;
            Ok(calls)
        })
        .unwrap();
        assert_eq!(out, vec![3, 4, 5, 6, 7]);
        let out = timed_loop(0, 100, Some(Duration::ZERO), || Ok::<_, ()>(1)).unwrap();
        assert_eq!(out.len(), 1, "one timed call even with no budget left");
        assert_eq!(timed_loop(1, 3, None, || Err::<(), _>("no")), Err("no"));
    }
}
