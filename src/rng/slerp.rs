//! The WebUI's `slerp` (modules/rng.py) for variation seeds.

/// `slerp(val, low, high)` on one image's noise of shape `[c, h, w]`, as the WebUI computes it on a 3-D
/// tensor: norms and dot products run over dim 1 (height), so every `(channel, column)` pair is
/// interpolated on its own. When the mean dot product exceeds 0.9995 the WebUI returns
/// `low * val + high * (1 - val)` (weights the other way round from the spherical branch; kept).
///
/// Element-wise steps use float32 like torch; the norms and dot sums are accumulated in float64 and
/// rounded once (torch's reduction order is not reproduced), so results agree with the WebUI to about
/// 1e-6. Where torch would produce NaN (a column whose dot product rounds outside [-1, 1] or whose
/// angle is 0) the column falls back to the linear weights `(1 - val, val)`.
pub fn slerp(val: f64, low: &[f32], high: &[f32], shape: [usize; 3]) -> Vec<f32> {
    let [c, h, w] = shape;
    debug_assert_eq!(low.len(), c * h * w);
    debug_assert_eq!(high.len(), c * h * w);
    let at = |ci: usize, hi: usize, wi: usize| (ci * h + hi) * w + wi;
    let norm = |t: &[f32], ci: usize, wi: usize| {
        ((0..h).map(|hi| f64::from(t[at(ci, hi, wi)]).powi(2)).sum::<f64>()).sqrt() as f32
    };
    let mut dots = vec![0f32; c * w];
    for ci in 0..c {
        for wi in 0..w {
            let (nl, nh) = (norm(low, ci, wi), norm(high, ci, wi));
            let dot: f64 = (0..h)
                .map(|hi| {
                    let i = at(ci, hi, wi);
                    f64::from((low[i] / nl) * (high[i] / nh))
                })
                .sum();
            dots[ci * w + wi] = dot as f32;
        }
    }
    let mean = dots.iter().map(|&d| f64::from(d)).sum::<f64>() / dots.len().max(1) as f64;
    let val32 = val as f32;
    let one_minus = (1.0 - val) as f32;
    if mean > 0.9995 {
        return low
            .iter()
            .zip(high)
            .map(|(&l, &hv)| l * val32 + hv * one_minus)
            .collect();
    }
    let mut out = vec![0f32; low.len()];
    for ci in 0..c {
        for wi in 0..w {
            let omega = (f64::from(dots[ci * w + wi]).acos()) as f32;
            let so = (f64::from(omega).sin()) as f32;
            let (a, b) = if omega.is_finite() && so != 0.0 {
                let a = ((f64::from(one_minus * omega)).sin() as f32) / so;
                let b = ((f64::from(val32 * omega)).sin() as f32) / so;
                (a, b)
            } else {
                (one_minus, val32)
            };
            for hi in 0..h {
                let i = at(ci, hi, wi);
                out[i] = a * low[i] + b * high[i];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::{Encoded, load};
    use crate::rng::{CpuKernel, RandnSettings, RngSource};
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        seed: u64,
        subseed: u64,
        shape: [usize; 3],
        val: f64,
        out: Encoded,
    }

    #[derive(Deserialize)]
    struct File {
        slerp: Vec<Case>,
    }

    #[test]
    fn matches_the_webui_within_float_error() {
        let file: File = load("image_rng.json");
        let settings = RandnSettings {
            cpu_kernel: CpuKernel::Avx2,
            ..RandnSettings::new(RngSource::Cpu)
        };
        for case in &file.slerp {
            let n = case.shape.iter().product();
            let low = settings.generator(case.seed).randn(n).expect("small");
            let high = settings.generator(case.subseed).randn(n).expect("small");
            let got = slerp(case.val, &low, &high, case.shape);
            let diff = case.out.compare(&got);
            assert!(diff.max_abs < 2e-6, "seed {} val {}: {diff:?}", case.seed, case.val);
        }
    }

    #[test]
    fn degenerate_columns_do_not_produce_nan() {
        // One column identical in both tensors, the others opposite: mean dot below the threshold.
        let low = vec![1.0, 0.0, 1.0, 1.0];
        let high = vec![1.0, 0.0, -1.0, -1.0];
        let out = slerp(0.5, &low, &high, [1, 2, 2]);
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        let zeros = slerp(0.5, &[0.0; 4], &[0.0; 4], [1, 2, 2]);
        assert!(zeros.iter().all(|v| v.is_finite()), "{zeros:?}");
    }
}
