//! Test support: reading the goldens under tests/fixtures/rng/ (written by scripts/goldens/rng_*.py).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// A tensor as the golden scripts store it: whole when small, else a checksum and a sample.
#[derive(Debug, Clone, Deserialize)]
pub struct Encoded {
    pub shape: Vec<usize>,
    pub n: usize,
    pub full: Option<Vec<f64>>,
    pub sha256: Option<String>,
    pub sum: Option<f64>,
    pub sum_abs: Option<f64>,
    pub sample_idx: Option<Vec<usize>>,
    pub sample: Option<Vec<f64>>,
}

/// How a computed tensor compares with its golden.
#[derive(Debug, Clone, Copy)]
pub struct Diff {
    /// Largest absolute difference over the stored elements.
    pub max_abs: f64,
    /// Every element has the golden's float32 bits (whole tensors) or the checksum matches.
    pub exact: bool,
}

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rng")
        .join(name)
}

pub fn load<T: DeserializeOwned>(name: &str) -> T {
    load_optional(name).unwrap_or_else(|| panic!("missing fixture {}", path(name).display()))
}

pub fn load_optional<T: DeserializeOwned>(name: &str) -> Option<T> {
    let text = std::fs::read_to_string(path(name)).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad fixture {name}: {e}")))
}

pub fn sha256_f32(values: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    hex::encode(h.finalize())
}

impl Encoded {
    pub fn compare(&self, got: &[f32]) -> Diff {
        assert_eq!(got.len(), self.n, "element count");
        if let Some(full) = &self.full {
            let mut max_abs = 0f64;
            let mut exact = true;
            for (g, e) in got.iter().zip(full) {
                max_abs = max_abs.max((f64::from(*g) - e).abs());
                exact &= g.to_bits() == (*e as f32).to_bits();
            }
            return Diff { max_abs, exact };
        }
        let idx = self.sample_idx.as_deref().unwrap_or_default();
        let sample = self.sample.as_deref().unwrap_or_default();
        let max_abs = idx
            .iter()
            .zip(sample)
            .map(|(&i, e)| (f64::from(got[i]) - e).abs())
            .fold(0.0, f64::max);
        let exact = self.sha256.as_deref() == Some(sha256_f32(got).as_str());
        if let (Some(sum), Some(sum_abs)) = (self.sum, self.sum_abs) {
            let s: f64 = got.iter().map(|&v| f64::from(v)).sum();
            let a: f64 = got.iter().map(|&v| f64::from(v).abs()).sum();
            let tol = 1e-5 * self.n as f64;
            assert!(
                (s - sum).abs() <= tol && (a - sum_abs).abs() <= tol,
                "sums {s} {a} vs {sum} {sum_abs}"
            );
        }
        Diff { max_abs, exact }
    }
}
