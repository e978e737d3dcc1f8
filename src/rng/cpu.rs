//! `torch.randn` on the CPU: MT19937 plus torch's Box-Muller kernels, reproduced bit for bit.

use super::avx_mathfun;
use super::mt19937::Mt19937;
use super::parallel::{default_threads, for_chunks};

/// Which of torch's CPU normal kernels to imitate for float32 tensors of 16 or more elements.
///
/// torch picks it at run time from the CPU: the AVX2 kernel (Cephes `log`/`sincos` from
/// avx_mathfun.h) on x86 machines with AVX2 but no AVX-512; the generic kernel (libm `logf`, `cosf`,
/// `sinf`) on AVX-512 machines, ARM and anything else. They differ by about one float32 ulp on a few
/// values in a thousand. The generic kernel is reproduced with this platform's libm, which is the
/// same glibc code as Linux builds of torch use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuKernel {
    /// `ATEN_CPU_CAPABILITY=avx2`: the common desktop x86 CPU.
    #[default]
    Avx2,
    /// `ATEN_CPU_CAPABILITY=default` (also what AVX-512 machines run).
    Generic,
}

/// Values below this many elements go through torch's scalar double-precision path.
const VECTOR_MIN: usize = 16;

/// `torch.Generator('cpu').manual_seed(seed)` and the `torch.randn` calls made with it.
#[derive(Debug, Clone)]
pub struct CpuGenerator {
    mt: Mt19937,
    /// torch caches the second value of a scalar Box-Muller pair in the generator.
    next_double_normal: Option<f64>,
    kernel: CpuKernel,
}

impl CpuGenerator {
    pub fn new(seed: u64, kernel: CpuKernel) -> Self {
        Self {
            mt: Mt19937::new(seed),
            next_double_normal: None,
            kernel,
        }
    }

    /// Fill `out` as `torch.randn(out.len())` (any contiguous float32 shape with that many elements).
    pub fn fill(&mut self, out: &mut [f32]) {
        self.fill_threads(out, default_threads());
    }

    /// [`Self::fill`] with the Box-Muller part on up to `threads` threads (same result for any count).
    pub fn fill_threads(&mut self, out: &mut [f32], threads: usize) {
        if out.len() >= VECTOR_MIN {
            self.fill_vectorized(out, threads);
        } else {
            for v in out.iter_mut() {
                *v = self.scalar_normal() as f32;
            }
        }
    }

    /// `uniform_real_distribution<float>(0, 1)`: 24 random bits scaled by 2^-24 (exact).
    fn uniform_f32(&mut self) -> f32 {
        (self.mt.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// `normal_fill` / `normal_fill_AVX2`: uniforms for every element, Box-Muller in blocks of 16, and for
    /// a length that is not a multiple of 16 the last 16 are drawn again and recomputed.
    fn fill_vectorized(&mut self, out: &mut [f32], threads: usize) {
        let n = out.len();
        for v in out.iter_mut() {
            *v = self.uniform_f32();
        }
        let kernel = self.kernel;
        let whole = n / VECTOR_MIN * VECTOR_MIN;
        for_chunks(&mut out[..whole], threads, VECTOR_MIN, |_, chunk| {
            for block in chunk.chunks_exact_mut(VECTOR_MIN) {
                box_muller_16(block, kernel);
            }
        });
        if !n.is_multiple_of(VECTOR_MIN) {
            let tail = &mut out[n - VECTOR_MIN..];
            for v in tail.iter_mut() {
                *v = self.uniform_f32();
            }
            box_muller_16(tail, kernel);
        }
    }

    /// `at::normal_distribution<double>` with mean 0, std 1 (the path for fewer than 16 elements).
    fn scalar_normal(&mut self) -> f64 {
        if let Some(v) = self.next_double_normal.take() {
            return v;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_double_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `uniform_real_distribution<double>(0, 1)`: 53 bits of `random64()` scaled by 2^-53.
    fn uniform_f64(&mut self) -> f64 {
        (self.mt.next_u64() & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// `normal_fill_16` / `normal_fill_16_AVX2` on 16 uniforms: pairs (j, j + 8).
fn box_muller_16(data: &mut [f32], kernel: CpuKernel) {
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let (radius, sin, cos) = match kernel {
            CpuKernel::Avx2 => {
                let radius = (-2.0 * avx_mathfun::log_ps(u1)).sqrt();
                let theta = (2.0 * std::f64::consts::PI) as f32 * u2;
                let (s, c) = avx_mathfun::sincos_ps(theta);
                (radius, s, c)
            }
            CpuKernel::Generic => {
                let radius = (-2.0 * u1.ln()).sqrt();
                // `2.0f * c10::pi<double> * u2` is evaluated in double, then stored as float.
                let theta = (2.0 * std::f64::consts::PI * u2 as f64) as f32;
                (radius, theta.sin(), theta.cos())
            }
        };
        data[j] = radius * cos;
        data[j + 8] = radius * sin;
    }
}
