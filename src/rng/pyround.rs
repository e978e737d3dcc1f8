//! Python's `round(x, 6)` on floats (torchsde quantises times with it when `tol=1e-6`).

/// `round(x, 6)`: `x` rounded to 6 decimal places (ties to even on the exact binary value, as CPython's
/// correctly rounded `_Py_dg_dtoa` does), returned as the nearest double to that decimal.
pub fn round6(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let a = x.abs();
    // From 2^33 up a double's ulp exceeds 1.9e-6, so the rounded decimal reads back as `x` itself.
    if a >= 8_589_934_592.0 {
        return x;
    }
    let bits = a.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, e) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    // a = mantissa · 2^e with e < 0 here (a < 2^33 < 2^52).
    let shift = (-e) as u32;
    if shift > 100 {
        // a < 2^-47: far below 5e-7.
        return sign * 0.0;
    }
    let scaled = u128::from(mantissa) * 1_000_000;
    let q = scaled >> shift;
    let r = scaled - (q << shift);
    let half = 1u128 << (shift - 1);
    let q = if r > half || (r == half && q & 1 == 1) {
        q + 1
    } else {
        q
    };
    // q < 2^33 · 10^6 < 2^53: exact as a double, and one correctly rounded division gives the nearest
    // double to q / 10^6.
    sign * (q as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fixtures::load;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct File {
        /// `repr(x)`, `repr(round(x, 6))`: strings, parsed exactly by Rust (serde_json's default float
        /// parsing may be off by an ulp).
        round6: Vec<(String, String)>,
    }

    #[test]
    fn matches_python_round() {
        let file: File = load("brownian.json");
        assert!(file.round6.len() > 500);
        for (x, want) in file.round6 {
            let (x, want): (f64, f64) = (x.parse().expect("x"), want.parse().expect("rounded"));
            assert_eq!(
                round6(x).to_bits(),
                want.to_bits(),
                "round({x:e}, 6): got {:e} want {want:e}",
                round6(x)
            );
        }
    }
}
