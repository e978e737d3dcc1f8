//! The WebUI's `ImageRNG` (modules/rng.py): the noise of one batch.

use ndarray::{Array4, Axis};

use super::generator::{Generator, RandnSettings};
use super::slerp::slerp;
use super::{RngError, element_count};
use crate::samplers::{Latents, NoiseSource};

/// Everything `ImageRNG(shape, seeds, subseeds, subseed_strength, seed_resize_from_h/w)` takes, plus the
/// settings it reads (`randn_source`, `eta_noise_seed_delta`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRngConfig {
    /// Source and machine details of the generators.
    pub randn: RandnSettings,
    /// One image's latent shape `[channels, height / 8, width / 8]`.
    pub shape: [usize; 3],
    /// One seed per image of the batch (see [`super::seeds::all_seeds`]), already mapped to 64 bits
    /// ([`super::seeds::torch_seed`]).
    pub seeds: Vec<u64>,
    /// Variation seeds; used only when `subseed_strength != 0`, and an image without an entry uses
    /// subseed 0 as in the WebUI.
    pub subseeds: Vec<u64>,
    pub subseed_strength: f64,
    /// "Resize seed from" in pixels; active only when both are > 0 (the noise is drawn at `/ 8` of it).
    pub seed_resize_from_h: i64,
    pub seed_resize_from_w: i64,
    /// The "Eta noise seed delta" setting (ENSD): when non-zero, the generators for every draw after
    /// the starting noise are re-created with seed `seed + delta`.
    pub eta_noise_seed_delta: i64,
}

impl ImageRngConfig {
    /// A plain batch: no variation seeds, no resize, no ENSD.
    pub fn new(randn: RandnSettings, shape: [usize; 3], seeds: Vec<u64>) -> Self {
        Self {
            randn,
            shape,
            seeds,
            subseeds: Vec::new(),
            subseed_strength: 0.0,
            seed_resize_from_h: -1,
            seed_resize_from_w: -1,
            eta_noise_seed_delta: 0,
        }
    }

    /// The shape the seed noise is drawn at (`shape`, or the "resize seed from" size).
    fn noise_shape(&self) -> [usize; 3] {
        if self.seed_resize_from_h <= 0 || self.seed_resize_from_w <= 0 {
            return self.shape;
        }
        let to_latent = |px: i64| usize::try_from(px / 8).unwrap_or(usize::MAX);
        [
            self.shape[0],
            to_latent(self.seed_resize_from_h),
            to_latent(self.seed_resize_from_w),
        ]
    }
}

/// Per-image generators for a batch. The first [`ImageRng::next_noise`] is the starting noise; later calls
/// are the noise samplers draw with `randn_like` (the WebUI replaces k-diffusion's `torch.randn_like`
/// with this), so a batch gives each image the noise it would get alone.
#[derive(Debug, Clone)]
pub struct ImageRng {
    cfg: ImageRngConfig,
    generators: Vec<Generator>,
    is_first: bool,
}

impl ImageRng {
    pub fn new(cfg: ImageRngConfig) -> Result<Self, RngError> {
        if cfg.seeds.is_empty() {
            return Err(RngError::NoSeeds);
        }
        if cfg.shape.contains(&0) {
            return Err(RngError::EmptyShape(cfg.shape.to_vec()));
        }
        if !cfg.subseed_strength.is_finite() {
            return Err(RngError::InvalidStrength(cfg.subseed_strength));
        }
        let [c, h, w] = cfg.shape;
        element_count(&[cfg.seeds.len(), c, h, w])?;
        element_count(&cfg.noise_shape())?;
        let generators = cfg.seeds.iter().map(|&s| cfg.randn.generator(s)).collect();
        Ok(Self {
            cfg,
            generators,
            is_first: true,
        })
    }

    pub fn batch_size(&self) -> usize {
        self.cfg.seeds.len()
    }

    /// `[batch, channels, height, width]` of every [`ImageRng::next_noise`].
    pub fn shape(&self) -> [usize; 4] {
        let [c, h, w] = self.cfg.shape;
        [self.batch_size(), c, h, w]
    }

    pub fn config(&self) -> &ImageRngConfig {
        &self.cfg
    }

    /// `ImageRNG.next()`: the starting noise on the first call, the next draw of every generator after.
    pub fn next_noise(&mut self) -> Latents {
        let images: Vec<Vec<f32>> = if self.is_first {
            self.is_first = false;
            self.first()
        } else {
            let n = self.cfg.shape.iter().product();
            self.generators.iter_mut().map(|g| draw(g, n)).collect()
        };
        stack(self.shape(), &images)
    }

    fn first(&mut self) -> Vec<Vec<f32>> {
        let cfg = &self.cfg;
        let shape = cfg.shape;
        let noise_shape = cfg.noise_shape();
        let noise_n: usize = noise_shape.iter().product();
        let n: usize = shape.iter().product();
        let mut xs = Vec::with_capacity(cfg.seeds.len());
        for (i, (&seed, generator)) in cfg.seeds.iter().zip(self.generators.iter_mut()).enumerate() {
            let subnoise = (cfg.subseed_strength != 0.0).then(|| {
                let subseed = cfg.subseeds.get(i).copied().unwrap_or(0);
                draw(&mut cfg.randn.generator(subseed), noise_n)
            });
            let mut noise = if noise_shape != shape {
                draw(&mut cfg.randn.generator(seed), noise_n)
            } else {
                draw(generator, n)
            };
            if let Some(sub) = subnoise {
                noise = slerp(cfg.subseed_strength, &noise, &sub, noise_shape);
            }
            if noise_shape != shape {
                let mut x = draw(generator, n);
                paste_centered(&mut x, shape, &noise, noise_shape);
                noise = x;
            }
            xs.push(noise);
        }
        if cfg.eta_noise_seed_delta != 0 {
            let delta = cfg.eta_noise_seed_delta;
            self.generators = cfg
                .seeds
                .iter()
                .map(|&s| cfg.randn.generator(s.wrapping_add_signed(delta)))
                .collect();
        }
        xs
    }
}

impl NoiseSource for ImageRng {
    /// The WebUI ignores `x` and returns `ImageRNG.next()`. If `x` does not have this batch's shape
    /// (a caller error), every image of `x` instead takes its generator's next draw at `x`'s size
    /// (image `i` uses generator `i mod batch`), so shapes always match.
    fn randn_like(&mut self, x: &Latents) -> Latents {
        if x.shape() == self.shape() {
            return self.next_noise();
        }
        tracing::warn!(want = ?self.shape(), got = ?x.shape(), "randn_like called with another shape");
        self.is_first = false;
        let (b, c, h, w) = x.dim();
        let batch = self.generators.len();
        let images: Vec<Vec<f32>> = (0..b)
            .map(|i| draw(&mut self.generators[i % batch], c * h * w))
            .collect();
        stack([b, c, h, w], &images)
    }
}

fn draw(g: &mut Generator, n: usize) -> Vec<f32> {
    let mut v = vec![0.0; n];
    g.fill(&mut v);
    v
}

fn stack(shape: [usize; 4], images: &[Vec<f32>]) -> Latents {
    let mut out = Array4::zeros(shape);
    for (mut dst, src) in out.axis_iter_mut(Axis(0)).zip(images) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
    out
}

/// The WebUI's paste of seed noise drawn at another size: centred, cropped where larger.
fn paste_centered(x: &mut [f32], shape: [usize; 3], noise: &[f32], noise_shape: [usize; 3]) {
    let (c, hh, ww) = (shape[0], shape[1] as i64, shape[2] as i64);
    let (nh, nw) = (noise_shape[1] as i64, noise_shape[2] as i64);
    // Python's `//` floors.
    let dx = (ww - nw).div_euclid(2);
    let dy = (hh - nh).div_euclid(2);
    let w = if dx >= 0 { nw } else { nw + 2 * dx };
    let h = if dy >= 0 { nh } else { nh + 2 * dy };
    let (tx, ty) = (dx.max(0), dy.max(0));
    let (sx, sy) = ((-dx).max(0), (-dy).max(0));
    for ci in 0..c as i64 {
        for row in 0..h.max(0) {
            for col in 0..w.max(0) {
                let dst = (ci * hh + ty + row) * ww + tx + col;
                let src = (ci * nh + sy + row) * nw + sx + col;
                x[dst as usize] = noise[src as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::{Encoded, load};
    use crate::rng::{CpuKernel, RngSource};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        shape: [usize; 3],
        seeds: Vec<i64>,
        subseeds: Vec<i64>,
        subseed_strength: f64,
        seed_resize_from_h: i64,
        seed_resize_from_w: i64,
        eta_noise_seed_delta: i64,
        next: Vec<Encoded>,
    }

    #[derive(Deserialize)]
    struct File {
        sources: BTreeMap<String, Vec<Case>>,
    }

    fn config(case: &Case, randn: RandnSettings) -> ImageRngConfig {
        let seeds = case.seeds.iter().map(|&s| s as u64).collect();
        ImageRngConfig {
            subseeds: case.subseeds.iter().map(|&s| s as u64).collect(),
            subseed_strength: case.subseed_strength,
            seed_resize_from_h: case.seed_resize_from_h,
            seed_resize_from_w: case.seed_resize_from_w,
            eta_noise_seed_delta: case.eta_noise_seed_delta,
            ..ImageRngConfig::new(randn, case.shape, seeds)
        }
    }

    #[test]
    fn matches_the_webui_image_rng() {
        let file: File = load("image_rng.json");
        let mut checked = 0;
        for (source, cases) in &file.sources {
            let randn = RandnSettings {
                cpu_kernel: CpuKernel::Avx2,
                ..RandnSettings::new(source.parse().expect("source"))
            };
            for case in cases {
                let mut rng = ImageRng::new(config(case, randn)).expect("valid case");
                for (k, want) in case.next.iter().enumerate() {
                    let got = rng.next_noise();
                    assert_eq!(got.shape(), want.shape.as_slice());
                    let diff = want.compare(&got.iter().copied().collect::<Vec<_>>());
                    // Without variation seeds there is no float arithmetic: bit-exact.
                    let exact_expected = case.subseed_strength == 0.0;
                    assert!(
                        if exact_expected {
                            diff.exact
                        } else {
                            diff.max_abs < 2e-6
                        },
                        "{source} {} next #{k}: {diff:?}",
                        case.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 40);
    }

    #[test]
    fn randn_like_follows_next_and_tolerates_other_shapes() {
        let cfg = ImageRngConfig::new(RandnSettings::new(RngSource::Nv), [4, 8, 8], vec![1, 2]);
        let mut a = ImageRng::new(cfg.clone()).expect("valid");
        let mut b = ImageRng::new(cfg).expect("valid");
        let x = Array4::<f32>::zeros((2, 4, 8, 8));
        assert_eq!(a.next_noise(), b.randn_like(&x));
        assert_eq!(a.next_noise(), b.randn_like(&x));
        let odd = b.randn_like(&Array4::zeros((3, 1, 2, 5)));
        assert_eq!(odd.shape(), &[3, 1, 2, 5]);
    }

    #[test]
    fn bad_configs_are_errors_not_panics() {
        let randn = RandnSettings::default();
        assert!(ImageRng::new(ImageRngConfig::new(randn, [4, 8, 8], vec![])).is_err());
        assert!(ImageRng::new(ImageRngConfig::new(randn, [4, 0, 8], vec![1])).is_err());
        assert!(ImageRng::new(ImageRngConfig::new(randn, [4, 1 << 20, 1 << 20], vec![1])).is_err());
        let huge_resize = ImageRngConfig {
            seed_resize_from_h: i64::MAX,
            seed_resize_from_w: i64::MAX,
            ..ImageRngConfig::new(randn, [4, 8, 8], vec![1])
        };
        assert!(ImageRng::new(huge_resize).is_err());
        let nan = ImageRngConfig {
            subseed_strength: f64::NAN,
            ..ImageRngConfig::new(randn, [4, 8, 8], vec![1])
        };
        assert!(ImageRng::new(nan).is_err());
    }

    #[test]
    fn tiny_resize_and_extreme_seeds_do_not_panic() {
        for source in [RngSource::Gpu, RngSource::Cpu, RngSource::Nv] {
            let cfg = ImageRngConfig {
                subseeds: vec![u64::MAX],
                subseed_strength: -3.0,
                seed_resize_from_h: 7,
                seed_resize_from_w: 9,
                eta_noise_seed_delta: i64::MIN,
                ..ImageRngConfig::new(RandnSettings::new(source), [4, 3, 5], vec![u64::MAX, 0])
            };
            let mut rng = ImageRng::new(cfg).expect("valid");
            for _ in 0..3 {
                assert_eq!(rng.next_noise().shape(), &[2, 4, 3, 5]);
            }
        }
    }
}
