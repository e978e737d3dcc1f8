//! Scalar port of the two functions of torch's `ATen/native/cpu/avx_mathfun.h` (Cephes-based AVX code
//! by Julien Pommier and Giovanni Garberoglio, zlib licence) that torch's AVX2 `normal_fill_16_AVX2` uses.
//!
//! To give the same bits as torch's build, the fused multiply-adds ([`fma_f32`]) follow where GCC contracts the
//! intrinsics (`-mfma`, `-ffp-contract=fast`): each product whose only use is an addition becomes an FMA,
//! the earlier product in program order winning when both operands of an addition are products. This
//! was checked bit for bit against torch 2.11 (ATEN_CPU_CAPABILITY=avx2) on 376,832 values.

use super::fma::fma_f32;

// The constants as written in avx_mathfun.h (rounded to f32 by the compiler, as in C).
#[allow(clippy::excessive_precision, clippy::approx_constant)]
const LOG_P: [f32; 9] = [
    7.0376836292E-2,
    -1.1514610310E-1,
    1.1676998740E-1,
    -1.2420140846E-1,
    1.4249322787E-1,
    -1.6668057665E-1,
    2.0000714765E-1,
    -2.4999993993E-1,
    3.3333331174E-1,
];
#[allow(clippy::excessive_precision)]
const LOG_Q1: f32 = -2.12194440e-4;
#[allow(clippy::excessive_precision)]
const LOG_Q2: f32 = 0.693359375;
#[allow(clippy::excessive_precision, clippy::approx_constant)]
const SQRTHF: f32 = 0.707106781186547524;

/// `log256_ps` for one lane.
pub fn log_ps(x: f32) -> f32 {
    let invalid = x <= 0.0;
    let x = x.max(f32::from_bits(0x0080_0000));
    let bits = x.to_bits();
    let exponent = (bits >> 23) as i32 - 0x7f;
    let mut x = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
    let mut e = exponent as f32 + 1.0;
    let below = x < SQRTHF;
    let tmp = if below { x } else { 0.0 };
    x -= 1.0;
    e -= if below { 1.0 } else { 0.0 };
    x += tmp;
    let z = x * x;
    let mut y = LOG_P[0];
    for p in &LOG_P[1..] {
        y = fma_f32(y, x, *p);
    }
    y *= x;
    y = fma_f32(y, z, e * LOG_Q1);
    y = fma_f32(-z, 0.5, y);
    x += y;
    x = fma_f32(e, LOG_Q2, x);
    if invalid { f32::NAN } else { x }
}

const DP1: f32 = -0.78515625;
#[allow(clippy::excessive_precision)]
const DP2: f32 = -2.4187564849853515625e-4;
#[allow(clippy::excessive_precision)]
const DP3: f32 = -3.77489497744594108e-8;
#[allow(clippy::excessive_precision)]
const SINCOF: [f32; 3] = [-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1];
#[allow(clippy::excessive_precision)]
const COSCOF: [f32; 3] = [2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002];
#[allow(clippy::excessive_precision)]
const FOPI: f32 = 1.27323954473516; // 4 / π

/// `sincos256_ps` for one lane: (sin x, cos x).
pub fn sincos_ps(x: f32) -> (f32, f32) {
    let sign_sin = x.to_bits() & 0x8000_0000;
    let mut x = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    // _mm256_cvttps_epi32 gives i32::MIN for out-of-range input; `as` saturates instead, which only
    // matters for |x| > 2^31 (never reached here: torch feeds 2π·u with u in [0, 1)).
    let mut j = (x * FOPI) as i32;
    j = j.wrapping_add(1) & !1;
    let y = j as f32;
    let swap_sin = ((j & 4) as u32) << 29;
    let poly_is_cos = (j & 2) == 0;
    x = fma_f32(y, DP1, x);
    x = fma_f32(y, DP2, x);
    x = fma_f32(y, DP3, x);
    let sign_cos = ((!(j.wrapping_sub(2)) & 4) as u32) << 29;
    let sign_sin = sign_sin ^ swap_sin;
    let z = x * x;
    let mut yc = COSCOF[0];
    yc = fma_f32(yc, z, COSCOF[1]);
    yc = fma_f32(yc, z, COSCOF[2]);
    yc *= z;
    yc = fma_f32(yc, z, -(z * 0.5));
    yc += 1.0;
    let mut ys = SINCOF[0];
    ys = fma_f32(ys, z, SINCOF[1]);
    ys = fma_f32(ys, z, SINCOF[2]);
    ys *= z;
    ys = fma_f32(ys, x, x);
    let (s, c) = if poly_is_cos { (ys, yc) } else { (yc, ys) };
    (
        f32::from_bits(s.to_bits() ^ sign_sin),
        f32::from_bits(c.to_bits() ^ sign_cos),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_libm() {
        for i in 1..1000 {
            let x = i as f32 / 1000.0;
            assert!((log_ps(x) - x.ln()).abs() < 1e-6, "log {x}");
            let t = x * std::f32::consts::TAU;
            let (s, c) = sincos_ps(t);
            assert!((s - t.sin()).abs() < 1e-6 && (c - t.cos()).abs() < 1e-6, "sincos {t}");
        }
        assert!(log_ps(0.0).is_nan() && log_ps(-1.0).is_nan());
    }
}
