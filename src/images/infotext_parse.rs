//! Parsing an infotext as the WebUI's `infotext_utils.parse_generation_parameters` does, with the
//! parameter regex `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)` evaluated by hand
//! (Python `re.findall` semantics; `\w` = Unicode alphanumeric or `_`, `\s` = `str.isspace`).

use serde_json::Value;

use super::pyfmt::{py_isspace, py_strip};

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_key_char(c: char) -> bool {
    is_word(c) || c == ' ' || c == '-' || c == '/'
}

/// One match of the parameter regex starting exactly at `p`: (key, value, end).
fn match_at(s: &[char], p: usize) -> Option<(String, String, usize)> {
    let n = s.len();
    let mut i = p;
    while i < n && py_isspace(s[i]) {
        i += 1;
    }
    let key_start = i;
    if i >= n || !is_word(s[i]) {
        return None;
    }
    let mut j = i + 1;
    while j < n && is_key_char(s[j]) {
        j += 1;
    }
    if j == i + 1 || j >= n || s[j] != ':' {
        return None;
    }
    let key: String = s[key_start..j].iter().collect();
    let mut v0 = j + 1;
    while v0 < n && py_isspace(s[v0]) {
        v0 += 1;
    }
    // First alternative: a quoted string followed by ',' or the end.
    if v0 < n && s[v0] == '"' {
        let mut q = v0 + 1;
        let mut units = 0usize;
        let closed = loop {
            if q >= n {
                break None;
            }
            match s[q] {
                '\\' if q + 1 < n && s[q + 1] != '\n' => q += 2,
                '\\' => break None,
                '"' => break Some(q),
                _ => q += 1,
            }
            units += 1;
        };
        if let Some(q) = closed.filter(|_| units > 0) {
            let after = q + 1;
            if after == n || s[after] == ',' {
                let value: String = s[v0..=q].iter().collect();
                return Some((key, value, if after == n { n } else { after + 1 }));
            }
        }
    }
    // Second alternative: everything up to the next ','.
    let c = (v0..n).find(|&k| s[k] == ',').unwrap_or(n);
    let value: String = s[v0..c].iter().collect();
    Some((key, value, if c == n { n } else { c + 1 }))
}

/// `re_param.findall(line)`.
#[must_use]
pub fn find_params(line: &str) -> Vec<(String, String)> {
    let s: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut p = 0;
    while p <= s.len() {
        match match_at(&s, p) {
            Some((k, v, end)) => {
                out.push((k, v));
                p = end.max(p + 1);
            }
            None => p += 1,
        }
    }
    out
}

/// `infotext_utils.unquote`: JSON-decode a `"..."` value, keeping the text when that fails.
fn unquote(text: &str) -> String {
    serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string())
}

/// `^(\d+)x(\d+)$` (ASCII digits; `$` also before one final newline).
fn image_size(v: &str) -> Option<(String, String)> {
    let v = v.strip_suffix('\n').unwrap_or(v);
    let (a, b) = v.split_once('x')?;
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    (digits(a) && digits(b)).then(|| (a.to_string(), b.to_string()))
}

/// A parsed infotext: prompt, negative prompt and the parameters in order, as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedInfotext {
    /// The prompt (lines joined with `\n`).
    pub prompt: String,
    /// The negative prompt (lines joined with `\n`).
    pub negative_prompt: String,
    /// `Key: value` pairs in order; "WxH" values split into `Key-1` / `Key-2`; quoted values
    /// unquoted; a repeated key keeps its first position and its last value.
    pub params: Vec<(String, String)>,
}

fn set(params: &mut Vec<(String, String)>, k: String, v: String) {
    match params.iter_mut().find(|(key, _)| *key == k) {
        Some(slot) => slot.1 = v,
        None => params.push((k, v)),
    }
}

impl ParsedInfotext {
    /// Parses an infotext (never fails: text without a parameter line is all prompt).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let x = py_strip(text);
        let mut lines: Vec<&str> = x.split('\n').collect();
        let mut lastline = lines.pop().unwrap_or("");
        if find_params(lastline).len() < 3 {
            lines.push(lastline);
            lastline = "";
        }
        let (mut prompt, mut negative) = (String::new(), String::new());
        let mut done_with_prompt = false;
        for line in lines {
            let mut line = py_strip(line);
            if let Some(rest) = line.strip_prefix("Negative prompt:") {
                done_with_prompt = true;
                line = py_strip(rest);
            }
            let target = if done_with_prompt { &mut negative } else { &mut prompt };
            if !target.is_empty() {
                target.push('\n');
            }
            target.push_str(line);
        }
        let mut params = Vec::new();
        for (k, v) in find_params(lastline) {
            // The WebUI indexes v[0]: an empty value raises and the key is skipped.
            if v.is_empty() {
                continue;
            }
            let v = if v.starts_with('"') && v.ends_with('"') {
                unquote(&v)
            } else {
                v
            };
            match image_size(&v) {
                Some((a, b)) => {
                    set(&mut params, format!("{k}-1"), a);
                    set(&mut params, format!("{k}-2"), b);
                }
                None => set(&mut params, k, v),
            }
        }
        ParsedInfotext {
            prompt,
            negative_prompt: negative,
            params,
        }
    }

    /// The raw string of a parameter.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn parse_as<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.get(key).and_then(|v| py_strip(v).parse().ok())
    }

    /// "Steps".
    #[must_use]
    pub fn steps(&self) -> Option<u32> {
        self.parse_as("Steps")
    }
    /// "Sampler".
    #[must_use]
    pub fn sampler(&self) -> Option<&str> {
        self.get("Sampler")
    }
    /// "Schedule type".
    #[must_use]
    pub fn schedule_type(&self) -> Option<&str> {
        self.get("Schedule type")
    }
    /// "CFG scale".
    #[must_use]
    pub fn cfg_scale(&self) -> Option<f64> {
        self.parse_as("CFG scale")
    }
    /// "Seed".
    #[must_use]
    pub fn seed(&self) -> Option<i64> {
        self.parse_as("Seed")
    }
    /// "Size" as (width, height).
    #[must_use]
    pub fn size(&self) -> Option<(u32, u32)> {
        Some((self.parse_as("Size-1")?, self.parse_as("Size-2")?))
    }
    /// "Model hash".
    #[must_use]
    pub fn model_hash(&self) -> Option<&str> {
        self.get("Model hash")
    }
    /// "Model".
    #[must_use]
    pub fn model(&self) -> Option<&str> {
        self.get("Model")
    }
    /// "Denoising strength".
    #[must_use]
    pub fn denoising_strength(&self) -> Option<f64> {
        self.parse_as("Denoising strength")
    }
    /// "Clip skip" (1 when absent, as the WebUI assumes).
    #[must_use]
    pub fn clip_skip(&self) -> u32 {
        self.parse_as("Clip skip").unwrap_or(1)
    }
    /// "Variation seed".
    #[must_use]
    pub fn variation_seed(&self) -> Option<i64> {
        self.parse_as("Variation seed")
    }
    /// "Variation seed strength".
    #[must_use]
    pub fn variation_seed_strength(&self) -> Option<f64> {
        self.parse_as("Variation seed strength")
    }
    /// "Seed resize from" as (width, height).
    #[must_use]
    pub fn seed_resize_from(&self) -> Option<(i64, i64)> {
        Some((
            self.parse_as("Seed resize from-1")?,
            self.parse_as("Seed resize from-2")?,
        ))
    }
    /// "ENSD".
    #[must_use]
    pub fn ensd(&self) -> Option<i64> {
        self.parse_as("ENSD")
    }
    /// "RNG" ("GPU" when absent, as the WebUI assumes).
    #[must_use]
    pub fn rng(&self) -> &str {
        self.get("RNG").unwrap_or("GPU")
    }
    /// "Version".
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// The dict the WebUI's png-info route returns as `parameters`: "Prompt", "Negative prompt",
    /// the parameters, then the defaults `parse_generation_parameters` adds (Clip skip "1",
    /// Hires resize 0, masks, RNG "GPU", Schedule type "Automatic", ...), the old first-pass-size
    /// conversion and the hypernet prompt suffix. Not reproduced: style extraction (sdgate has no
    /// styles database), `infotext_versions.backcompat` and `infotext_skip_pasting` (empty by default).
    #[must_use]
    pub fn to_webui_dict(&self) -> Vec<(String, Value)> {
        let mut d: Vec<(String, Value)> = vec![
            ("Prompt".into(), Value::from(self.prompt.clone())),
            ("Negative prompt".into(), Value::from(self.negative_prompt.clone())),
        ];
        let put = |d: &mut Vec<(String, Value)>, k: &str, v: Value| match d.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v,
            None => d.push((k.to_string(), v)),
        };
        for (k, v) in &self.params {
            put(&mut d, k, Value::from(v.clone()));
        }
        let has = |d: &Vec<(String, Value)>, k: &str| d.iter().any(|(key, _)| key == k);
        let get_s = |d: &Vec<(String, Value)>, k: &str| {
            d.iter().find(|(key, _)| key == k).map(|(_, v)| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        if !has(&d, "Clip skip") {
            put(&mut d, "Clip skip", "1".into());
        }
        if let Some(h) = get_s(&d, "Hypernet") {
            let strength = get_s(&d, "Hypernet strength").unwrap_or_else(|| "1.0".into());
            let p = get_s(&d, "Prompt").unwrap_or_default();
            put(&mut d, "Prompt", format!("{p}<hypernet:{h}:{strength}>").into());
        }
        if !has(&d, "Hires resize-1") {
            put(&mut d, "Hires resize-1", 0.into());
            put(&mut d, "Hires resize-2", 0.into());
        }
        let defaults: [(&str, Value); 6] = [
            ("Hires sampler", "Use same sampler".into()),
            ("Hires checkpoint", "Use same checkpoint".into()),
            ("Hires prompt", "".into()),
            ("Hires negative prompt", "".into()),
            ("Mask mode", "Inpaint masked".into()),
            ("Masked content", "original".into()),
        ];
        for (k, v) in defaults {
            if !has(&d, k) {
                put(&mut d, k, v);
            }
        }
        for (k, v) in [
            ("Inpaint area", Value::from("Whole picture")),
            ("Masked area padding", 32.into()),
        ] {
            if !has(&d, k) {
                put(&mut d, k, v);
            }
        }
        restore_old_hires_fix_params(&mut d);
        let tail: [(&str, Value); 8] = [
            ("RNG", "GPU".into()),
            ("Schedule type", "Automatic".into()),
            ("Schedule max sigma", 0.into()),
            ("Schedule min sigma", 0.into()),
            ("Schedule rho", 0.into()),
            ("VAE Encoder", "Full".into()),
            ("VAE Decoder", "Full".into()),
            ("FP8 weight", "Disable".into()),
        ];
        for (k, v) in tail {
            if !has(&d, k) {
                put(&mut d, k, v);
            }
        }
        if !has(&d, "Cache FP16 weight for LoRA") && get_s(&d, "FP8 weight").as_deref() != Some("Disable") {
            put(&mut d, "Cache FP16 weight for LoRA", false.into());
        }
        d
    }
}

/// `infotext_utils.restore_old_hires_fix_params` (with `use_old_hires_fix_width_height` off).
fn restore_old_hires_fix_params(d: &mut Vec<(String, Value)>) {
    let int_of = |d: &Vec<(String, Value)>, k: &str| -> Option<Option<i64>> {
        d.iter().find(|(key, _)| key == k).map(|(_, v)| match v {
            Value::String(s) => py_strip(s).parse().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
    };
    let (Some(fw), Some(fh)) = (int_of(d, "First pass size-1"), int_of(d, "First pass size-2")) else {
        return;
    };
    let (Some(mut fw), Some(mut fh)) = (fw, fh) else { return };
    let width = int_of(d, "Size-1").unwrap_or(Some(512));
    let height = int_of(d, "Size-2").unwrap_or(Some(512));
    let (Some(width), Some(height)) = (width, height) else {
        return;
    };
    if fw == 0 || fh == 0 {
        (fw, fh) = old_hires_fix_first_pass_dimensions(width, height);
    }
    for (k, v) in [
        ("Size-1", fw),
        ("Size-2", fh),
        ("Hires resize-1", width),
        ("Hires resize-2", height),
    ] {
        match d.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.into(),
            None => d.push((k.to_string(), v.into())),
        }
    }
}

/// `processing.old_hires_fix_first_pass_dimensions`.
fn old_hires_fix_first_pass_dimensions(width: i64, height: i64) -> (i64, i64) {
    let desired = 512.0 * 512.0;
    let actual = (width * height) as f64;
    if actual <= 0.0 {
        return (width, height);
    }
    let scale = (desired / actual).sqrt();
    let w = (scale * width as f64 / 64.0).ceil() as i64 * 64;
    let h = (scale * height as f64 / 64.0).ceil() as i64 * 64;
    (w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example() {
        let t = "a cat, (masterpiece:1.2)\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1";
        let p = ParsedInfotext::parse(t);
        assert_eq!(p.prompt, "a cat, (masterpiece:1.2)");
        assert_eq!(p.negative_prompt, "lowres");
        assert_eq!(p.steps(), Some(20));
        assert_eq!(p.sampler(), Some("DPM++ 2M"));
        assert_eq!(p.size(), Some((512, 768)));
        assert_eq!(p.cfg_scale(), Some(7.0));
        assert_eq!(p.seed(), Some(1234));
        assert_eq!(p.clip_skip(), 1);
        assert_eq!(p.version(), Some("v1.10.1"));
    }

    #[test]
    fn quoted_values_and_short_lines() {
        let p = ParsedInfotext::parse("x\nSteps: 2, Lora hashes: \"a: 1, b: 2\", Sampler: Euler");
        assert_eq!(p.get("Lora hashes"), Some("a: 1, b: 2"));
        let p = ParsedInfotext::parse("just a prompt\nSteps: 2, Sampler: Euler");
        assert!(p.params.is_empty());
        assert_eq!(p.prompt, "just a prompt\nSteps: 2, Sampler: Euler");
        assert_eq!(ParsedInfotext::parse(""), ParsedInfotext::default());
    }
}
