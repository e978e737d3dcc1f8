//! Correctly rounded float32 fused multiply-add without a function call.

/// `a·b + c` rounded once, like `f32::mul_add`. Builds without the `fma` target feature would call libm's
/// `fmaf` for `mul_add`, which dominates the cost of the CPU and GPU noise kernels; this computes it
/// inline: the product is exact in f64, the sum is rounded to odd (exact error from TwoSum), and a
/// rounding to odd at 53 bits followed by one to 24 bits is the correctly rounded result
/// (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using rounding
/// to odd", 2008).
#[inline(always)]
pub fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        return a.mul_add(b, c);
    }
    let p = f64::from(a) * f64::from(b);
    let c = f64::from(c);
    let s = p + c;
    let bb = s - p;
    let err = (p - (s - bb)) + (c - bb);
    if err == 0.0 || s.to_bits() & 1 == 1 || !s.is_finite() {
        return s as f32;
    }
    let bits = if (err > 0.0) == (s > 0.0) {
        s.to_bits() + 1
    } else {
        s.to_bits() - 1
    };
    f64::from_bits(bits) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn equals_mul_add() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..2_000_000 {
            let a = f32::from_bits(rng.random_range(0x3000_0000..0x4f00_0000)) * if rng.random() { -1.0 } else { 1.0 };
            let b = f32::from_bits(rng.random_range(0x3000_0000..0x4f00_0000));
            // Addends near -a·b exercise cancellation and near-ties.
            let c = if rng.random() {
                -(a * b) * rng.random_range(0.5..1.5)
            } else {
                rng.random_range(-4.0..4.0)
            };
            assert_eq!(
                fma_f32(a, b, c).to_bits(),
                a.mul_add(b, c).to_bits(),
                "{a:e} {b:e} {c:e}"
            );
        }
        for (a, b, c) in [
            (1.0, 1.0, 0.0),
            (0.0, 5.0, -0.0),
            (1.5, 2.0, -3.0),
            (3.0, 1.0 / 3.0, -1.0),
        ] {
            assert_eq!(fma_f32(a, b, c).to_bits(), a.mul_add(b, c).to_bits());
        }
    }
}
