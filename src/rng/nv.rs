//! The WebUI's "NV" source: modules/rng_philox.py, its NumPy imitation of `torch.randn` on CUDA.

use super::parallel::{default_threads, for_chunks};
use super::philox::{TWO_POW32_INV, TWO_POW32_INV_2PI, key, philox4x32_10};

/// `rng_philox.Generator(seed)`.
///
/// Element `i` of a call is the first Box-Muller output of Philox at counter `(offset, 0, i, 0)`; the
/// offset grows by one per call. NumPy promotes `uint32 * float32` to float64, so the transform runs in
/// float64 and is rounded to float32 at the end.
#[derive(Debug, Clone)]
pub struct NvGenerator {
    key: [u32; 2],
    offset: u32,
}

impl NvGenerator {
    pub fn new(seed: u64) -> Self {
        Self {
            key: key(seed),
            offset: 0,
        }
    }

    /// Fill `out` as `Generator.randn(shape)` with `out.len()` elements.
    pub fn fill(&mut self, out: &mut [f32]) {
        self.fill_threads(out, default_threads());
    }

    /// [`Self::fill`] on up to `threads` threads (same result for any count).
    pub fn fill_threads(&mut self, out: &mut [f32], threads: usize) {
        let (offset, key) = (self.offset, self.key);
        for_chunks(out, threads, 1, |start, chunk| {
            for (j, v) in chunk.iter_mut().enumerate() {
                let r = philox4x32_10([offset, 0, (start + j) as u32, 0], key);
                *v = box_muller_f64(r[0], r[1]);
            }
        });
        self.offset = self.offset.wrapping_add(1);
    }
}

/// The port's `box_muller`: only the sine output, computed in float64.
fn box_muller_f64(x: u32, y: u32) -> f32 {
    let u = f64::from(x) * f64::from(TWO_POW32_INV) + f64::from(TWO_POW32_INV / 2.0);
    let v = f64::from(y) * f64::from(TWO_POW32_INV_2PI) + f64::from(TWO_POW32_INV_2PI / 2.0);
    ((-2.0 * u.ln()).sqrt() * v.sin()) as f32
}
