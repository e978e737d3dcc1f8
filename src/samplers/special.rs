//! Numerical helpers: the beta distribution's quantile (SciPy `stats.beta.ppf`) and the linear multistep
//! coefficients of k-diffusion's LMS (exact integrals of the Lagrange basis polynomials).

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
pub(crate) fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The quantile of Beta(a, b): the x with I_x(a, b) = p (bisection to the last bit; p outside (0, 1)
/// gives the support's ends).
pub(crate) fn beta_ppf(p: f64, a: f64, b: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_cdf(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// k-diffusion `linear_multistep_coeff(order, t, i, j)`: ∫_{t[i]}^{t[i+1]} Π_{k≠j} (τ − t[i−k]) / (t[i−j] − t[i−k]) dτ,
/// integrated exactly (the integrand is a polynomial of degree order − 1; SciPy's quad is exact on it too).
pub(crate) fn lms_coeff(order: usize, t: &[f64], i: usize, j: usize) -> f64 {
    // Expand the Lagrange basis polynomial into monomial coefficients (ascending powers).
    let mut poly = vec![1.0f64];
    for k in 0..order {
        if k == j {
            continue;
        }
        let (root, denom) = (t[i - k], t[i - j] - t[i - k]);
        let mut next = vec![0.0f64; poly.len() + 1];
        for (p, &c) in poly.iter().enumerate() {
            next[p + 1] += c / denom;
            next[p] -= c * root / denom;
        }
        poly = next;
    }
    // Integrate around t[i] for accuracy: shift the polynomial to u = τ − t[i].
    let shift = t[i];
    let n = poly.len();
    let mut shifted = vec![0.0f64; n];
    for (p, &c) in poly.iter().enumerate() {
        let mut binom = 1.0f64;
        let mut pow = 1.0f64;
        for q in (0..=p).rev() {
            // term c·C(p, q)·shift^(p−q)·u^q, iterating q downwards
            shifted[q] += c * binom * pow;
            binom = binom * q as f64 / (p - q + 1) as f64;
            pow *= shift;
        }
    }
    let h = t[i + 1] - t[i];
    shifted
        .iter()
        .enumerate()
        .map(|(q, &c)| c * h.powi(q as i32 + 1) / (q + 1) as f64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_ppf_inverts_cdf() {
        for &(a, b) in &[(0.6, 0.6), (0.5, 2.0), (2.0, 3.0)] {
            for &p in &[0.01, 0.3, 0.5, 0.77, 0.99] {
                let x = beta_ppf(p, a, b);
                assert!((beta_cdf(x, a, b) - p).abs() < 1e-12, "{a} {b} {p}");
            }
        }
        assert!((beta_ppf(0.5, 0.6, 0.6) - 0.5).abs() < 1e-12);
        // Uniform distribution: the identity.
        assert!((beta_ppf(0.25, 1.0, 1.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn lms_coeffs_sum_to_step() {
        let t = [10.0, 7.0, 4.5, 2.0, 1.0];
        let c: f64 = (0..4).map(|j| lms_coeff(4, &t, 3, j)).sum();
        assert!((c - (t[4] - t[3])).abs() < 1e-12);
        assert!((lms_coeff(1, &t, 0, 0) - (t[1] - t[0])).abs() < 1e-15);
    }
}
