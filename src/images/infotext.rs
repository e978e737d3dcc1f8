//! The WebUI's infotext ("parameters"): built as `processing.create_infotext` builds it and parsed
//! as `infotext_utils.parse_generation_parameters` parses it.
//!
//! ```text
//! {prompt}
//! Negative prompt: {negative}
//! Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 1, Size: 512x512, ...
//! ```

use super::pyfmt::{json_dumps_str, py_float, py_strip};

/// A parameter value, printed as Python's `str()` prints it.
#[derive(Debug, Clone, PartialEq)]
pub enum InfoValue {
    /// Text, printed as is (quoted by [`quote`] when it holds `,`, `:` or a newline).
    Str(String),
    /// An integer.
    Int(i64),
    /// A float, printed as Python's repr (`7.0`, `0.75`).
    Float(f64),
    /// `True` / `False`.
    Bool(bool),
}

impl InfoValue {
    /// Python's `str(value)`.
    #[must_use]
    pub fn to_python_string(&self) -> String {
        match self {
            InfoValue::Str(s) => s.clone(),
            InfoValue::Int(i) => i.to_string(),
            InfoValue::Float(f) => py_float(*f),
            InfoValue::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        }
    }
}

impl From<&str> for InfoValue {
    fn from(v: &str) -> Self {
        InfoValue::Str(v.to_string())
    }
}
impl From<String> for InfoValue {
    fn from(v: String) -> Self {
        InfoValue::Str(v)
    }
}
impl From<i64> for InfoValue {
    fn from(v: i64) -> Self {
        InfoValue::Int(v)
    }
}
impl From<u32> for InfoValue {
    fn from(v: u32) -> Self {
        InfoValue::Int(i64::from(v))
    }
}
impl From<f64> for InfoValue {
    fn from(v: f64) -> Self {
        InfoValue::Float(v)
    }
}
impl From<bool> for InfoValue {
    fn from(v: bool) -> Self {
        InfoValue::Bool(v)
    }
}

/// `infotext_utils.quote`: JSON-quote a value holding `,`, `:` or a newline.
#[must_use]
pub fn quote(v: &InfoValue) -> String {
    let s = v.to_python_string();
    match v {
        InfoValue::Str(_) if s.contains([',', '\n', ':']) => json_dumps_str(&s),
        _ => s,
    }
}

/// Everything `create_infotext` prints, typed. `None` fields are left out, as are the values the
/// WebUI leaves out (clip skip ≤ 1, variation seed when its strength is 0, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationInfo {
    /// The (style-applied) prompt of this image.
    pub prompt: String,
    /// The negative prompt; its line is left out when empty.
    pub negative_prompt: String,
    /// Steps.
    pub steps: u32,
    /// Sampler name, e.g. "DPM++ 2M".
    pub sampler: String,
    /// Scheduler label, e.g. "Karras" (the WebUI prints `p.scheduler`).
    pub schedule_type: Option<String>,
    /// CFG scale (printed as a Python float: `7.0`).
    pub cfg_scale: f64,
    /// Image CFG scale (instruct-pix2pix models only).
    pub image_cfg_scale: Option<f64>,
    /// This image's seed.
    pub seed: i64,
    /// Face restoration model, when used.
    pub face_restoration: Option<String>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Model hash (10 hex digits).
    pub model_hash: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// VAE hash.
    pub vae_hash: Option<String>,
    /// VAE name.
    pub vae: Option<String>,
    /// This image's variation seed (printed only when the strength is not 0).
    pub variation_seed: Option<i64>,
    /// Variation seed strength (0 = none).
    pub variation_seed_strength: f64,
    /// Seed resize from (w, h): printed only when both are > 0.
    pub seed_resize_from: Option<(i64, i64)>,
    /// Denoising strength (img2img, hires fix).
    pub denoising_strength: Option<f64>,
    /// Conditional mask weight (inpainting-conditioned models).
    pub conditional_mask_weight: Option<f64>,
    /// Clip skip (printed only when > 1).
    pub clip_skip: u32,
    /// Eta noise seed delta (printed only when the sampler uses it and it is not 0).
    pub ensd: Option<i64>,
    /// Token merging ratio (printed only when not 0).
    pub token_merging_ratio: Option<f64>,
    /// Init image hash.
    pub init_image_hash: Option<String>,
    /// RNG source when not "GPU" ("CPU", "NV").
    pub rng: Option<String>,
    /// Tiling.
    pub tiling: bool,
    /// `p.extra_generation_params` in insertion order; a key already listed above replaces that
    /// value in place (Python dict semantics); `None` values are dropped.
    pub extra: Vec<(String, Option<InfoValue>)>,
    /// WebUI version string, e.g. "v1.10.1".
    pub version: Option<String>,
    /// User name.
    pub user: Option<String>,
}

/// An insertion-ordered map with Python dict update semantics.
fn dict_set(d: &mut Vec<(String, Option<InfoValue>)>, k: &str, v: Option<InfoValue>) {
    match d.iter_mut().find(|(key, _)| key == k) {
        Some(slot) => slot.1 = v,
        None => d.push((k.to_string(), v)),
    }
}

impl GenerationInfo {
    /// The ordered parameters (before `None` values are dropped), as `create_infotext`'s dict.
    #[must_use]
    pub fn parameters(&self) -> Vec<(String, Option<InfoValue>)> {
        let s = |v: &Option<String>| v.clone().map(InfoValue::Str);
        let f = |v: Option<f64>| v.map(InfoValue::Float);
        let strength = self.variation_seed_strength;
        let mut d: Vec<(String, Option<InfoValue>)> = vec![
            ("Steps".into(), Some(self.steps.into())),
            ("Sampler".into(), Some(self.sampler.clone().into())),
            ("Schedule type".into(), s(&self.schedule_type)),
            ("CFG scale".into(), Some(self.cfg_scale.into())),
            ("Image CFG scale".into(), f(self.image_cfg_scale)),
            ("Seed".into(), Some(self.seed.into())),
            ("Face restoration".into(), s(&self.face_restoration)),
            ("Size".into(), Some(format!("{}x{}", self.width, self.height).into())),
            ("Model hash".into(), s(&self.model_hash)),
            ("Model".into(), s(&self.model)),
            ("FP8 weight".into(), None),
            ("Cache FP16 weight for LoRA".into(), None),
            ("VAE hash".into(), s(&self.vae_hash)),
            ("VAE".into(), s(&self.vae)),
            (
                "Variation seed".into(),
                if strength == 0.0 {
                    None
                } else {
                    self.variation_seed.map(InfoValue::Int)
                },
            ),
            (
                "Variation seed strength".into(),
                if strength == 0.0 { None } else { Some(strength.into()) },
            ),
            (
                "Seed resize from".into(),
                self.seed_resize_from
                    .filter(|&(w, h)| w > 0 && h > 0)
                    .map(|(w, h)| format!("{w}x{h}").into()),
            ),
            ("Denoising strength".into(), f(self.denoising_strength)),
            ("Conditional mask weight".into(), f(self.conditional_mask_weight)),
            ("Clip skip".into(), (self.clip_skip > 1).then(|| self.clip_skip.into())),
            ("ENSD".into(), self.ensd.map(InfoValue::Int)),
            (
                "Token merging ratio".into(),
                f(self.token_merging_ratio.filter(|&r| r != 0.0)),
            ),
            ("Init image hash".into(), s(&self.init_image_hash)),
            ("RNG".into(), s(&self.rng.clone().filter(|r| r != "GPU"))),
            ("Tiling".into(), self.tiling.then(|| "True".into())),
        ];
        for (k, v) in &self.extra {
            dict_set(&mut d, k, v.clone());
        }
        dict_set(&mut d, "Version", s(&self.version));
        dict_set(&mut d, "User", s(&self.user));
        d
    }

    /// The infotext string, exactly as the WebUI's `create_infotext` returns it.
    #[must_use]
    pub fn to_infotext(&self) -> String {
        build_infotext(&self.prompt, &self.negative_prompt, &self.parameters())
    }
}

/// Joins prompt, negative prompt and parameters the way `create_infotext` does:
/// `k` alone when the value equals the key, else `k: quote(v)`; `None` dropped; the whole
/// string stripped (Python `str.strip`).
#[must_use]
pub fn build_infotext(prompt: &str, negative_prompt: &str, params: &[(String, Option<InfoValue>)]) -> String {
    let text = params
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_ref()?;
            Some(match v {
                InfoValue::Str(s) if s == k => k.clone(),
                _ => format!("{k}: {}", quote(v)),
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let neg = if negative_prompt.is_empty() {
        String::new()
    } else {
        format!("\nNegative prompt: {negative_prompt}")
    };
    py_strip(&format!("{prompt}{neg}\n{text}")).to_string()
}
