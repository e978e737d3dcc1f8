//! `torch.randn` on CUDA: torch's `normal_kernel` over cuRAND's Philox4x32-10, recomputed on the CPU.
//!
//! torch launches `min(ceil(n / 256), SMs × (max threads per SM / 256))` blocks of 256 threads. Thread
//! `t` (of `stride` threads) calls `curand_normal4` once per loop pass `k` and writes its four values
//! to elements `k·4·stride + i·stride + t` (i = 0..3). Its Philox counter is
//! `(offset/4 + k, 0, t, 0)` and the generator's offset then grows by
//! `4 · ceil(n / (4 · stride))`. So for `n ≤ stride` element `t` is the sine output of thread `t` at
//! counter `(offset/4, 0, t, 0)`, which is what the WebUI's NV port computes; larger tensors also use
//! the cosine and second-pair outputs and depend on the GPU's size.
//!
//! Bits: the uniforms `u`, `v` are formed exactly as cuRAND does in float32 (an FMA, as nvcc contracts
//! `x * C + C/2`); the rest of Box-Muller (cuRAND: `logf`, `sqrtf` and the hardware `__sincosf`) is
//! computed in float64 and rounded once, so results differ from a GPU by a few float32 ulps
//! (`__sincosf`'s absolute error is about 2^-21), not in the sequence.

use super::fma::fma_f32;
use super::parallel::{default_threads, for_chunks};
use super::philox::{TWO_POW32_INV, TWO_POW32_INV_2PI, key, philox4x32_10};

const BLOCK: u64 = 256;

/// The GPU whose launch geometry to imitate (it changes results only for tensors with more elements
/// than `256 × max_blocks()`; an H100 SXM holds 270,336, an RTX 4090 196,608, an RTX 3090 125,952).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GpuProfile {
    /// `multiProcessorCount`.
    pub multiprocessors: u32,
    /// `maxThreadsPerMultiProcessor`.
    pub max_threads_per_multiprocessor: u32,
}

impl GpuProfile {
    /// NVIDIA H100 SXM (132 SMs, 2048 threads each).
    pub const H100_SXM: Self = Self {
        multiprocessors: 132,
        max_threads_per_multiprocessor: 2048,
    };

    /// Most blocks torch launches on this GPU (at least 1).
    pub fn max_blocks(&self) -> u64 {
        (u64::from(self.multiprocessors) * (u64::from(self.max_threads_per_multiprocessor) / BLOCK)).max(1)
    }
}

impl Default for GpuProfile {
    fn default() -> Self {
        Self::H100_SXM
    }
}

/// `torch.Generator('cuda').manual_seed(seed)` and the `torch.randn` calls made with it.
#[derive(Debug, Clone)]
pub struct CudaGenerator {
    key: [u32; 2],
    /// torch's `philox_offset_per_thread`, always a multiple of 4.
    offset: u64,
    profile: GpuProfile,
}

impl CudaGenerator {
    pub fn new(seed: u64, profile: GpuProfile) -> Self {
        Self {
            key: key(seed),
            offset: 0,
            profile,
        }
    }

    /// Fill `out` as `torch.randn(out.len(), device='cuda')` (any contiguous float32 shape).
    pub fn fill(&mut self, out: &mut [f32]) {
        self.fill_threads(out, default_threads());
    }

    /// [`Self::fill`] on up to `threads` threads (same result for any count).
    pub fn fill_threads(&mut self, out: &mut [f32], threads: usize) {
        let n = out.len() as u64;
        if n == 0 {
            return;
        }
        let blocks = n.div_ceil(BLOCK).min(self.profile.max_blocks());
        let stride = BLOCK * blocks;
        let passes = (n - 1) / (stride * 4) + 1;
        let base = self.offset / 4;
        let key = self.key;
        for_chunks(out, threads, 1, |start, chunk| {
            // Element index = pass·4·stride + output·stride + thread; walk it without dividing.
            let start = start as u64;
            let (mut pass, rest) = (start / (4 * stride), start % (4 * stride));
            let (mut output, mut thread) = (rest / stride, rest % stride);
            for v in chunk.iter_mut() {
                let ctr = base.wrapping_add(pass);
                let r = philox4x32_10(
                    [ctr as u32, (ctr >> 32) as u32, thread as u32, (thread >> 32) as u32],
                    key,
                );
                *v = match output {
                    0 => box_muller(r[0], r[1], false),
                    1 => box_muller(r[0], r[1], true),
                    2 => box_muller(r[2], r[3], false),
                    _ => box_muller(r[2], r[3], true),
                };
                thread += 1;
                if thread == stride {
                    thread = 0;
                    output += 1;
                    if output == 4 {
                        output = 0;
                        pass += 1;
                    }
                }
            }
        });
        self.offset = self.offset.wrapping_add(passes * 4);
    }
}

/// One output of cuRAND's `_curand_box_muller`: `s·sin v` (first) or `s·cos v` (second).
fn box_muller(x: u32, y: u32, second: bool) -> f32 {
    let u = fma_f32(x as f32, TWO_POW32_INV, TWO_POW32_INV / 2.0);
    let v = fma_f32(y as f32, TWO_POW32_INV_2PI, TWO_POW32_INV_2PI / 2.0);
    let s = (-2.0 * f64::from(u).ln()).sqrt();
    let angle = f64::from(v);
    (s * if second { angle.cos() } else { angle.sin() }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::{Encoded, load_optional};
    use crate::rng::{BrownianTreeNoise, ImageRng, ImageRngConfig, NvGenerator, RandnSettings, RngSource};
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Device {
        name: String,
        multiprocessors: u32,
        max_threads_per_multiprocessor: Option<u32>,
    }

    #[derive(Deserialize)]
    struct Case {
        seed: u64,
        draws: Vec<Encoded>,
    }

    #[derive(Deserialize)]
    struct ImageCase {
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
    struct BrownianCase {
        name: String,
        seeds: Vec<u64>,
        shape: [usize; 3],
        sigma_min: f32,
        sigma_max: f32,
        queries: Vec<(f32, f32)>,
        outputs: Vec<Encoded>,
    }

    #[derive(Deserialize)]
    struct File {
        device: Device,
        cases: Vec<Case>,
        image_rng: Vec<ImageCase>,
        brownian: Option<Vec<BrownianCase>>,
    }

    #[test]
    fn layout_of_large_tensors() {
        // A GPU of one block: 256 threads; 1000 elements take one pass and use all four outputs.
        let tiny = GpuProfile {
            multiprocessors: 1,
            max_threads_per_multiprocessor: 256,
        };
        let mut g = CudaGenerator::new(9, tiny);
        let mut big = vec![0.0; 1000];
        g.fill(&mut big);
        assert_eq!(g.offset, 4);
        let mut nv = NvGenerator::new(9);
        let mut first = vec![0.0; 256];
        nv.fill(&mut first);
        // Element t < 256 is thread t's sine output, as in the NV port.
        let max = big[..256]
            .iter()
            .zip(&first)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 2e-4, "{max}");
        // Two passes advance the offset by 8.
        g.fill(&mut vec![0.0; 1025]);
        assert_eq!(g.offset, 12);
        // Empty tensors do not advance it.
        g.fill(&mut []);
        assert_eq!(g.offset, 12);
    }

    /// Compares with torch on a real GPU once scripts/gpu/rng_cuda_goldens.py has written its file.
    #[test]
    fn cuda_goldens_when_present() {
        let Some(file) = load_optional::<File>("cuda_randn.json") else {
            eprintln!("tests/fixtures/rng/cuda_randn.json absent: run scripts/gpu/rng_cuda_goldens.py on a GPU");
            return;
        };
        let profile = GpuProfile {
            multiprocessors: file.device.multiprocessors,
            max_threads_per_multiprocessor: file.device.max_threads_per_multiprocessor.unwrap_or(2048),
        };
        let stride = BLOCK as usize * profile.max_blocks() as usize;
        let settings = RandnSettings {
            gpu: profile,
            ..RandnSettings::new(RngSource::Gpu)
        };
        let (mut gpu_max, mut nv_max, mut exact, mut total) = (0f64, 0f64, 0, 0);
        for case in &file.cases {
            let mut g = settings.generator(case.seed);
            let mut nv = NvGenerator::new(case.seed);
            let nv_comparable = case.draws.iter().all(|d| d.n <= stride);
            for want in &case.draws {
                let got = g.randn(want.n).expect("size");
                let diff = want.compare(&got);
                assert!(
                    diff.max_abs < 1e-5,
                    "seed {} shape {:?}: {diff:?}",
                    case.seed,
                    want.shape
                );
                gpu_max = gpu_max.max(diff.max_abs);
                exact += usize::from(diff.exact);
                total += 1;
                let mut v = vec![0.0; want.n];
                nv.fill(&mut v);
                if nv_comparable {
                    nv_max = nv_max.max(want.compare(&v).max_abs);
                }
            }
        }
        let mut image_max = 0f64;
        for case in &file.image_rng {
            let cfg = ImageRngConfig {
                subseeds: case.subseeds.iter().map(|&s| s as u64).collect(),
                subseed_strength: case.subseed_strength,
                seed_resize_from_h: case.seed_resize_from_h,
                seed_resize_from_w: case.seed_resize_from_w,
                eta_noise_seed_delta: case.eta_noise_seed_delta,
                ..ImageRngConfig::new(settings, case.shape, case.seeds.iter().map(|&s| s as u64).collect())
            };
            let mut rng = ImageRng::new(cfg).expect("valid");
            for want in &case.next {
                let diff = want.compare(&rng.next_noise().iter().copied().collect::<Vec<_>>());
                assert!(diff.max_abs < 2e-5, "image {}: {diff:?}", case.name);
                image_max = image_max.max(diff.max_abs);
            }
        }
        let mut brownian_max = 0f64;
        for case in file.brownian.iter().flatten() {
            let mut ns = BrownianTreeNoise::new(
                settings,
                &case.seeds,
                case.shape,
                case.sigma_min,
                case.sigma_max,
                crate::rng::SigmaTransform::Identity,
            )
            .expect("valid");
            for ((a, b), want) in case.queries.iter().zip(&case.outputs) {
                let diff = want.compare(&ns.sample(*a, *b).iter().copied().collect::<Vec<_>>());
                assert!(diff.max_abs < 5e-5, "brownian {} ({a}, {b}): {diff:?}", case.name);
                brownian_max = brownian_max.max(diff.max_abs);
            }
        }
        eprintln!(
            "CUDA goldens from {}: GPU source max |diff| {gpu_max:.3e} ({exact}/{total} draws bit-exact), \
             NV port max |diff| {nv_max:.3e}, ImageRng {image_max:.3e}, Brownian {brownian_max:.3e}",
            file.device.name
        );
    }
}
