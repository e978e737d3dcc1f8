//! Resizing latents (NCHW f32) as `torch.nn.functional.interpolate` does on the CPU, for the
//! WebUI's latent upscale modes (hires fix) and img2img resize mode 3 ("bilinear").

use ndarray::{Array4, ArrayView4};

use super::ImageError;
use super::resample::Filter;

/// The WebUI's latent upscale modes (`shared.latent_upscale_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentResize {
    /// "Latent": bilinear, align_corners=False.
    Bilinear,
    /// "Latent (antialiased)": bilinear with antialias=True.
    BilinearAntialiased,
    /// "Latent (bicubic)": bicubic (A = -0.75), align_corners=False.
    Bicubic,
    /// "Latent (bicubic antialiased)": bicubic with antialias=True (A = -0.5, Pillow-like support).
    BicubicAntialiased,
    /// "Latent (nearest)": the legacy "nearest" (floor of dst × in/out).
    Nearest,
    /// "Latent (nearest-exact)": floor((dst + 0.5) × in/out).
    NearestExact,
}

impl LatentResize {
    /// All modes with the WebUI's names, in the WebUI's order.
    pub const ALL: [(&'static str, LatentResize); 6] = [
        ("Latent", LatentResize::Bilinear),
        ("Latent (antialiased)", LatentResize::BilinearAntialiased),
        ("Latent (bicubic)", LatentResize::Bicubic),
        ("Latent (bicubic antialiased)", LatentResize::BicubicAntialiased),
        ("Latent (nearest)", LatentResize::Nearest),
        ("Latent (nearest-exact)", LatentResize::NearestExact),
    ];

    /// From the WebUI's name (`hr_upscaler`), exact match.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The WebUI's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, m)| *m == self).map_or("Latent", |(n, _)| n)
    }
}

/// torch's legacy "nearest" source index: `min(floor(dst * (in / out)), in - 1)`, with the
/// identity and exact-2× shortcuts torch takes.
pub(crate) fn nearest_index(dst: usize, in_size: usize, out_size: usize) -> usize {
    if in_size == out_size {
        dst
    } else if out_size == 2 * in_size {
        dst >> 1
    } else {
        let scale = in_size as f32 / out_size as f32;
        ((dst as f32 * scale).floor() as usize).min(in_size - 1)
    }
}

fn nearest_exact_index(dst: usize, in_size: usize, out_size: usize) -> usize {
    let scale = in_size as f32 / out_size as f32;
    (((dst as f32 + 0.5) * scale).floor() as usize).min(in_size - 1)
}

/// Per output index: (first input index, weights for consecutive inputs, clamped at the edges).
type Taps = Vec<(Vec<usize>, Vec<f32>)>;

fn linear_taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f32 / out_size as f32;
    (0..out_size)
        .map(|o| {
            let real = (scale * (o as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (real.floor() as usize).min(in_size - 1);
            let lambda = (real - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < in_size - 1 { i0 + 1 } else { i0 };
            (vec![i0, i1], vec![1.0 - lambda, lambda])
        })
        .collect()
}

fn cubic_taps(in_size: usize, out_size: usize) -> Taps {
    const A: f32 = -0.75;
    let cc1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let cc2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let scale = in_size as f32 / out_size as f32;
    (0..out_size)
        .map(|o| {
            let real = scale * (o as f32 + 0.5) - 0.5;
            let fl = real.floor();
            let idx = (fl as i64).min(in_size as i64 - 1);
            let t = (real - idx as f32).clamp(0.0, 1.0);
            let w = vec![cc2(t + 1.0), cc1(t), cc1(1.0 - t), cc2(2.0 - t)];
            let ids = (0..4)
                .map(|j| (idx - 1 + j).clamp(0, in_size as i64 - 1) as usize)
                .collect();
            (ids, w)
        })
        .collect()
}

/// torch's antialiased weights (`_upsample_*_aa`): Pillow's scheme in f32.
fn aa_taps(in_size: usize, out_size: usize, filter: Filter) -> Taps {
    let scale = in_size as f32 / out_size as f32;
    let interp = filter.support() as f32;
    let support = if scale >= 1.0 { interp * scale } else { interp };
    let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
    let f = |x: f32| -> f32 {
        match filter {
            Filter::Bicubic => {
                const A: f32 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            _ => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
        }
    };
    (0..out_size)
        .map(|o| {
            let center = scale * (o as f32 + 0.5);
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(xmin as i64) as usize;
            let mut w: Vec<f32> = (xmin..xmax).map(|j| f((j as f32 - center + 0.5) * invscale)).collect();
            let total: f32 = w.iter().sum();
            if total != 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            ((xmin..xmax).collect(), w)
        })
        .collect()
}

fn gather_taps(in_size: usize, out_size: usize, f: fn(usize, usize, usize) -> usize) -> Taps {
    (0..out_size)
        .map(|o| (vec![f(o, in_size, out_size)], vec![1.0]))
        .collect()
}

/// `torch.nn.functional.interpolate(x, size=(out_h, out_w), mode=..., antialias=...)` on NCHW f32.
pub fn resize_latent(
    x: ArrayView4<'_, f32>,
    out_h: usize,
    out_w: usize,
    mode: LatentResize,
) -> Result<Array4<f32>, ImageError> {
    let (n, c, h, w) = x.dim();
    if h == 0 || w == 0 || out_h == 0 || out_w == 0 {
        return Err(ImageError::Shape(format!(
            "cannot resize a {h}x{w} latent to {out_h}x{out_w}"
        )));
    }
    let (ty, tx) = match mode {
        LatentResize::Bilinear => (linear_taps(h, out_h), linear_taps(w, out_w)),
        LatentResize::Bicubic => (cubic_taps(h, out_h), cubic_taps(w, out_w)),
        LatentResize::BilinearAntialiased => (aa_taps(h, out_h, Filter::Bilinear), aa_taps(w, out_w, Filter::Bilinear)),
        LatentResize::BicubicAntialiased => (aa_taps(h, out_h, Filter::Bicubic), aa_taps(w, out_w, Filter::Bicubic)),
        LatentResize::Nearest => (
            gather_taps(h, out_h, nearest_index),
            gather_taps(w, out_w, nearest_index),
        ),
        LatentResize::NearestExact => (
            gather_taps(h, out_h, nearest_exact_index),
            gather_taps(w, out_w, nearest_exact_index),
        ),
    };
    let mut out = Array4::<f32>::zeros((n, c, out_h, out_w));
    let mut row = vec![0.0f32; out_w];
    for b in 0..n {
        for ch in 0..c {
            let plane = x.index_axis(ndarray::Axis(0), b).index_axis_move(ndarray::Axis(0), ch);
            for (oy, (iys, wys)) in ty.iter().enumerate() {
                row.fill(0.0);
                for (&iy, &wy) in iys.iter().zip(wys) {
                    for (ox, (ixs, wxs)) in tx.iter().enumerate() {
                        let mut acc = 0.0f32;
                        for (&ix, &wx) in ixs.iter().zip(wxs) {
                            acc += wx * plane[[iy, ix]];
                        }
                        row[ox] += wy * acc;
                    }
                }
                for (ox, v) in row.iter().enumerate() {
                    out[[b, ch, oy, ox]] = *v;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (n, m) in LatentResize::ALL {
            assert_eq!(LatentResize::from_name(n), Some(m));
            assert_eq!(m.name(), n);
        }
        assert_eq!(LatentResize::from_name("Lanczos"), None);
    }

    #[test]
    fn constant_stays_constant() {
        let x = Array4::<f32>::from_elem((1, 2, 5, 7), 0.25);
        for (_, m) in LatentResize::ALL {
            let y = resize_latent(x.view(), 11, 3, m).expect("resize");
            assert_eq!(y.dim(), (1, 2, 11, 3));
            assert!(y.iter().all(|v| (v - 0.25).abs() < 1e-6), "{m:?}");
        }
        assert!(resize_latent(x.view(), 0, 3, LatentResize::Bilinear).is_err());
    }
}
