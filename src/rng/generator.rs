//! One seeded normal generator of any of the three sources.

use super::cpu::{CpuGenerator, CpuKernel};
use super::cuda::{CudaGenerator, GpuProfile};
use super::nv::NvGenerator;
use super::parallel::default_threads;
use super::{RngError, RngSource};

/// Which generator to build, and the details of the machine it imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RandnSettings {
    pub source: RngSource,
    /// Launch geometry for [`RngSource::Gpu`].
    pub gpu: GpuProfile,
    /// Box-Muller kernel for [`RngSource::Cpu`].
    pub cpu_kernel: CpuKernel,
}

impl RandnSettings {
    pub fn new(source: RngSource) -> Self {
        Self {
            source,
            ..Self::default()
        }
    }

    /// A generator seeded like `torch.Generator(device).manual_seed(seed)` (or `rng_philox.Generator(seed)`).
    pub fn generator(&self, seed: u64) -> Generator {
        match self.source {
            RngSource::Gpu => Generator::Gpu(CudaGenerator::new(seed, self.gpu)),
            RngSource::Cpu => Generator::Cpu(CpuGenerator::new(seed, self.cpu_kernel)),
            RngSource::Nv => Generator::Nv(NvGenerator::new(seed)),
        }
    }
}

/// A seeded generator; successive calls continue its stream as torch (or the NV port) would.
#[derive(Debug, Clone)]
pub enum Generator {
    Gpu(CudaGenerator),
    Cpu(CpuGenerator),
    Nv(NvGenerator),
}

impl Generator {
    /// Fill `out` as one `torch.randn` call of a contiguous float32 tensor with `out.len()` elements.
    /// Large fills use up to [`default_threads`] threads; the values do not depend on it.
    pub fn fill(&mut self, out: &mut [f32]) {
        self.fill_threads(out, default_threads());
    }

    /// [`Self::fill`] on up to `threads` threads.
    pub fn fill_threads(&mut self, out: &mut [f32], threads: usize) {
        match self {
            Self::Gpu(g) => g.fill_threads(out, threads),
            Self::Cpu(g) => g.fill_threads(out, threads),
            Self::Nv(g) => g.fill_threads(out, threads),
        }
    }

    /// `torch.randn(n)` as a new vector; `n` is checked against [`super::MAX_ELEMENTS`].
    pub fn randn(&mut self, n: usize) -> Result<Vec<f32>, RngError> {
        super::check_elements(n)?;
        let mut out = vec![0.0; n];
        self.fill(&mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::{Encoded, load};
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        seed: u64,
        draws: Vec<Encoded>,
    }

    #[derive(Deserialize)]
    struct File {
        cases: Vec<Case>,
    }

    /// Replays every golden case; all must be bit-exact.
    fn check_exact(file: &str, settings: RandnSettings) {
        let golden: File = load(file);
        let mut draws = 0;
        for case in &golden.cases {
            let mut g = settings.generator(case.seed);
            for (k, want) in case.draws.iter().enumerate() {
                let got = g.randn(want.n).expect("small");
                let diff = want.compare(&got);
                assert!(
                    diff.exact,
                    "{file}: seed {} draw {k} shape {:?}: {diff:?}",
                    case.seed, want.shape
                );
                draws += 1;
            }
        }
        assert!(draws > 40, "{file}: only {draws} draws");
    }

    #[test]
    fn cpu_avx2_kernel_is_bit_exact() {
        let settings = RandnSettings {
            cpu_kernel: CpuKernel::Avx2,
            ..RandnSettings::new(RngSource::Cpu)
        };
        check_exact("randn_cpu_avx2.json", settings);
    }

    #[test]
    fn cpu_generic_kernel_is_bit_exact() {
        let settings = RandnSettings {
            cpu_kernel: CpuKernel::Generic,
            ..RandnSettings::new(RngSource::Cpu)
        };
        check_exact("randn_cpu_default.json", settings);
    }

    #[test]
    fn nv_port_is_bit_exact() {
        check_exact("randn_nv.json", RandnSettings::new(RngSource::Nv));
    }

    #[test]
    fn gpu_equals_nv_for_tensors_within_one_launch_stride() {
        // Same Philox stream; only the Box-Muller rounding differs (float32 uniforms vs float64).
        let mut gpu = RandnSettings::new(RngSource::Gpu).generator(1234);
        let mut nv = RandnSettings::new(RngSource::Nv).generator(1234);
        for _ in 0..3 {
            let a = gpu.randn(4 * 64 * 64).expect("small");
            let b = nv.randn(4 * 64 * 64).expect("small");
            let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(max < 2e-4, "max diff {max}");
        }
    }

    #[test]
    fn thread_count_does_not_change_values() {
        let tiny_gpu = crate::rng::GpuProfile {
            multiprocessors: 2,
            max_threads_per_multiprocessor: 512,
        };
        for source in [RngSource::Gpu, RngSource::Cpu, RngSource::Nv] {
            let settings = RandnSettings {
                gpu: tiny_gpu,
                ..RandnSettings::new(source)
            };
            let (mut a, mut b) = (settings.generator(77), settings.generator(77));
            for n in [100_003, 40_000, 17] {
                let mut x = vec![0.0; n];
                let mut y = vec![0.0; n];
                a.fill_threads(&mut x, 1);
                b.fill_threads(&mut y, 5);
                assert!(
                    x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{source} {n}"
                );
            }
        }
    }

    #[test]
    fn too_large_is_an_error() {
        assert!(
            RandnSettings::default()
                .generator(0)
                .randn(crate::rng::MAX_ELEMENTS + 1)
                .is_err()
        );
    }
}
