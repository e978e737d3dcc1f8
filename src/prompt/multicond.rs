//! Composable diffusion: `a AND b:0.5` → sub-prompts with weights, as the WebUI's
//! `get_multicond_prompt_list` (`re_AND = \bAND\b`, then `re_weight` on each part).
//! The pipeline combines them as `uncond + Σ wᵢ·cfg·(condᵢ − uncond)`.

use super::pychar;

/// One part of an `AND`-composed prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct SubPrompt {
    pub text: String,
    pub weight: f64,
}

/// Split `prompt` on the word `AND`; each part may end in `:weight` (default 1.0).
/// Only the positive prompt is split this way (the WebUI's negative prompt keeps `AND` as text).
pub fn split_and(prompt: &str) -> Vec<SubPrompt> {
    let mut parts = Vec::new();
    let mut last = 0;
    for (start, end) in pychar::find_keyword(prompt, "AND") {
        parts.push(&prompt[last..start]);
        last = end;
    }
    parts.push(&prompt[last..]);
    parts.into_iter().map(weighted).collect()
}

/// `^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`: the text and its weight.
fn weighted(part: &str) -> SubPrompt {
    let trimmed = part.trim_end_matches(pychar::is_space);
    if let Some(colon) = trimmed.rfind(':') {
        let number = trimmed[colon + 1..].trim_start_matches(pychar::is_space);
        if is_weight(number)
            && let Ok(weight) = number.parse::<f64>()
        {
            return SubPrompt {
                text: trimmed[..colon].trim_end_matches(pychar::is_space).to_owned(),
                weight,
            };
        }
    }
    SubPrompt {
        text: trimmed.to_owned(),
        weight: 1.0,
    }
}

/// `[-+]?(?:\d+\.?|\d*\.\d+)` matching all of `s` (ASCII digits).
fn is_weight(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    let dots = body.bytes().filter(|&b| b == b'.').count();
    digits > 0 && dots <= 1 && digits + dots == body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str) -> Vec<(String, f64)> {
        split_and(p).into_iter().map(|x| (x.text, x.weight)).collect()
    }

    #[test]
    fn splits_like_the_webui() {
        assert_eq!(s("a cat"), vec![("a cat".into(), 1.0)]);
        assert_eq!(
            s("a cat AND a dog:0.5"),
            vec![("a cat".into(), 1.0), (" a dog".into(), 0.5)]
        );
        assert_eq!(s("a:: 1. "), vec![("a:".into(), 1.0)]);
        assert_eq!(s("ANDROID"), vec![("ANDROID".into(), 1.0)]);
        assert_eq!(s("x : -.5"), vec![("x".into(), -0.5)]);
        assert_eq!(s("x:1.5.5"), vec![("x:1.5.5".into(), 1.0)]);
        assert_eq!(s("AND"), vec![("".into(), 1.0), ("".into(), 1.0)]);
    }
}
