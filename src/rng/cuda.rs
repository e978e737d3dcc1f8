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
    pub const H100_SXM: Self = Self { multiprocessors: 132, max_threads_per_multiprocessor: 2048 };

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
        Self { key: key(seed), offset: 0, profile }
    }

    /// Fill `out` as `torch.randn(out.len(), device='cuda')` (any contiguous float32 shape).
    pub fn fill(&mut self, out: &mut [f32]) {
        let n = out.len() as u64;
        if n == 0 {
            return;
        }
        let blocks = n.div_ceil(BLOCK).min(self.profile.max_blocks());
        let stride = BLOCK * blocks;
        let passes = (n - 1) / (stride * 4) + 1;
        let base = self.offset / 4;
        for k in 0..passes {
            let ctr = base.wrapping_add(k);
            for t in 0..stride {
                let first = k * 4 * stride + t;
                if first >= n {
                    break;
                }
                let r = philox4x32_10([ctr as u32, (ctr >> 32) as u32, t as u32, (t >> 32) as u32], self.key);
                let (a, b) = box_muller_f32_uniforms(r[0], r[1]);
                let (c, d) = box_muller_f32_uniforms(r[2], r[3]);
                for (i, value) in [a, b, c, d].into_iter().enumerate() {
                    let index = first + i as u64 * stride;
                    if index < n {
                        out[index as usize] = value;
                    }
                }
            }
        }
        self.offset = self.offset.wrapping_add(passes * 4);
    }
}

/// cuRAND's `_curand_box_muller`: (s·sin v, s·cos v).
fn box_muller_f32_uniforms(x: u32, y: u32) -> (f32, f32) {
    let u = (x as f32).mul_add(TWO_POW32_INV, TWO_POW32_INV / 2.0);
    let v = (y as f32).mul_add(TWO_POW32_INV_2PI, TWO_POW32_INV_2PI / 2.0);
    let s = (-2.0 * f64::from(u).ln()).sqrt();
    let (sin, cos) = f64::from(v).sin_cos();
    ((s * sin) as f32, (s * cos) as f32)
}
