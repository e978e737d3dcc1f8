//! How emphasis multipliers change the encoder output: the WebUI's `sd_emphasis.py`.

use ndarray::{Array3, Axis};

/// The WebUI's "Emphasis mode" setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmphasisMode {
    /// Brackets are not parsed at all: `(x:1.2)` is literal text (and BREAK a word).
    None,
    /// Brackets are parsed (and removed) but weights are not applied.
    Ignore,
    /// Multiply each token's output by its weight, then restore the original mean (the default).
    #[default]
    Original,
    /// Multiply, without restoring the mean ("No norm").
    NoNorm,
}

impl EmphasisMode {
    /// From the WebUI's option value; unknown names fall back to Original, as the WebUI does.
    pub fn from_name(name: &str) -> Self {
        match name {
            "None" => Self::None,
            "Ignore" => Self::Ignore,
            "No norm" => Self::NoNorm,
            _ => Self::Original,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Ignore => "Ignore",
            Self::Original => "Original",
            Self::NoNorm => "No norm",
        }
    }

    /// Apply the multipliers (`[rows, tokens]`) to `z` (`[rows, tokens, hidden]`). `counts[r]` is how
    /// many times row r stands in the WebUI's batch (it encodes duplicates; the mean counts them).
    pub fn apply(self, z: &mut Array3<f32>, multipliers: &[Vec<f64>], counts: &[usize]) {
        if matches!(self, Self::None | Self::Ignore) {
            return;
        }
        let mean = |z: &Array3<f32>| -> f64 {
            let mut sum = 0.0f64;
            let mut n = 0usize;
            for (row, &c) in z.axis_iter(Axis(0)).zip(counts) {
                sum += c as f64 * row.iter().map(|&x| f64::from(x)).sum::<f64>();
                n += c * row.len();
            }
            if n == 0 { 0.0 } else { sum / n as f64 }
        };
        let original = if self == Self::Original { mean(z) } else { 0.0 };
        for (mut row, mults) in z.axis_iter_mut(Axis(0)).zip(multipliers) {
            for (mut token, &m) in row.axis_iter_mut(Axis(0)).zip(mults) {
                let m = m as f32;
                token.mapv_inplace(|x| x * m);
            }
        }
        if self == Self::Original {
            let new = mean(z);
            let factor = (original / new) as f32;
            z.mapv_inplace(|x| x * factor);
        }
    }
}

/// The infotext's "Emphasis" value: the mode, when it is not Original and some prompt has brackets.
pub fn emphasis_infotext<'a>(mode: EmphasisMode, texts: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    (mode != EmphasisMode::Original && texts.into_iter().any(|t| t.contains('(') || t.contains('[')))
        .then_some(mode.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_restores_the_mean() {
        let mut z = Array3::from_shape_fn((2, 3, 2), |(b, t, h)| (b * 6 + t * 2 + h) as f32 + 1.0);
        let before = z.mean().unwrap_or(0.0);
        let m = vec![vec![1.0, 2.0, 1.0], vec![0.5, 1.0, 1.0]];
        EmphasisMode::Original.apply(&mut z, &m, &[1, 1]);
        assert!((z.mean().unwrap_or(0.0) - before).abs() < 1e-5);
        let mut n = Array3::from_elem((1, 3, 2), 1.0f32);
        EmphasisMode::NoNorm.apply(&mut n, &m[..1], &[1]);
        assert_eq!(n[[0, 1, 0]], 2.0);
        assert_eq!(emphasis_infotext(EmphasisMode::NoNorm, ["(a)"]), Some("No norm"));
        assert_eq!(emphasis_infotext(EmphasisMode::Original, ["(a)"]), None);
    }
}
