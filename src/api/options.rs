//! /sdapi/v1/options: the WebUI's settings as clients read and write them. Three settings change
//! what sdgate generates (CLIP_stop_at_last_layers, eta_noise_seed_delta, randn_source), and
//! sd_model_checkpoint switches the model for jobs accepted afterwards. The others are kept and
//! answered so clients find the keys they read; they change nothing.

use parking_lot::RwLock;
use serde_json::{Map, Value};

use super::error::{ApiError, FieldError};
use crate::models::ModelRegistry;
use crate::pipeline::job::RngSource;

/// Settings that change a generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveSettings {
    pub clip_skip: usize,
    pub eta_noise_seed_delta: u64,
    pub randn_source: RngSource,
}

pub const MODEL_KEY: &str = "sd_model_checkpoint";
pub const HASH_KEY: &str = "sd_checkpoint_hash";

const DEFAULTS: &str = r#"{
        "samples_save": true,
        "samples_format": "png",
        "samples_filename_pattern": "",
        "grid_save": true,
        "grid_format": "png",
        "enable_pnginfo": true,
        "jpeg_quality": 80,
        "outdir_samples": "",
        "outdir_txt2img_samples": "outputs/txt2img-images",
        "outdir_img2img_samples": "outputs/img2img-images",
        "sd_checkpoints_limit": 1,
        "sd_vae": "Automatic",
        "sd_vae_overrides_per_model_preferences": true,
        "sd_unet": "Automatic",
        "sd_hypernetwork": "None",
        "sd_lora": "None",
        "lora_preferred_name": "Alias from file",
        "CLIP_stop_at_last_layers": 1,
        "eta_noise_seed_delta": 0,
        "randn_source": "GPU",
        "eta_ddim": 0.0,
        "eta_ancestral": 1.0,
        "s_churn": 0.0,
        "s_tmin": 0.0,
        "s_tmax": 0.0,
        "s_noise": 1.0,
        "s_min_uncond": 0.0,
        "k_sched_type": "Automatic",
        "sigma_min": 0.0,
        "sigma_max": 0.0,
        "rho": 0.0,
        "always_discard_next_to_last_sigma": false,
        "emphasis": "Original",
        "comma_padding_backtrack": 20,
        "show_progress_every_n_steps": 10,
        "live_previews_enable": true,
        "show_progressbar": true,
        "hires_fix_use_firstpass_conds": false,
        "img2img_fix_steps": false,
        "initial_noise_multiplier": 1.0,
        "inpainting_mask_weight": 1.0,
        "extra_networks_default_multiplier": 1.0,
        "face_restoration": false,
        "face_restoration_model": null,
        "upscaler_for_img2img": null,
        "api_enable_requests": false,
        "api_forbid_local_requests": true,
        "hide_samplers": [],
        "disable_weights_auto_swap": true
    }"#;

fn defaults() -> Map<String, Value> {
    let v: Value = serde_json::from_str(DEFAULTS).unwrap_or_default();
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Check one setting; returns the value to store (normalised).
pub fn check_setting(key: &str, value: &Value, default: Option<&Value>) -> Result<Value, String> {
    match key {
        "CLIP_stop_at_last_layers" => match value.as_i64() {
            Some(n @ 1..=32) => Ok(n.into()),
            _ => Err(format!("must be an integer from 1 to 32 (got {value})")),
        },
        "eta_noise_seed_delta" => match value.as_i64() {
            Some(n) if n >= 0 => Ok(n.into()),
            _ => Err(format!("must be a non-negative integer (got {value})")),
        },
        "randn_source" => value
            .as_str()
            .and_then(parse_rng_source)
            .map(|s| rng_source_name(s).into())
            .ok_or_else(|| format!("must be \"GPU\", \"CPU\" or \"NV\" (got {value})")),
        _ => match default {
            Some(Value::Bool(_)) if !value.is_boolean() => Err(format!("must be true or false (got {value})")),
            Some(Value::Number(_)) if !value.is_number() => Err(format!("must be a number (got {value})")),
            Some(Value::String(_)) if !value.is_string() => Err(format!("must be a string (got {value})")),
            _ => Ok(value.clone()),
        },
    }
}

pub fn parse_rng_source(s: &str) -> Option<RngSource> {
    match s.trim().to_ascii_uppercase().as_str() {
        "GPU" => Some(RngSource::Gpu),
        "CPU" => Some(RngSource::Cpu),
        "NV" => Some(RngSource::Nv),
        _ => None,
    }
}

pub fn rng_source_name(s: RngSource) -> &'static str {
    match s {
        RngSource::Gpu => "GPU",
        RngSource::Cpu => "CPU",
        RngSource::Nv => "NV",
    }
}

pub struct OptionsStore {
    values: RwLock<Map<String, Value>>,
}

impl Default for OptionsStore {
    fn default() -> Self {
        Self::new()
    }
}

impl OptionsStore {
    pub fn new() -> Self {
        OptionsStore {
            values: RwLock::new(defaults()),
        }
    }

    /// Every setting, with the current model's title and hash.
    pub fn snapshot(&self, registry: &ModelRegistry) -> Map<String, Value> {
        let mut m = self.values.read().clone();
        let current = registry.current();
        m.insert(MODEL_KEY.into(), current.as_ref().map(|e| e.title()).into());
        m.insert(
            HASH_KEY.into(),
            current.and_then(|e| e.folder.manifest.source.sha256.clone()).into(),
        );
        m
    }

    pub fn effective(&self) -> EffectiveSettings {
        let v = self.values.read();
        EffectiveSettings {
            clip_skip: v
                .get("CLIP_stop_at_last_layers")
                .and_then(Value::as_u64)
                .map_or(1, |n| n.max(1) as usize),
            eta_noise_seed_delta: v.get("eta_noise_seed_delta").and_then(Value::as_u64).unwrap_or(0),
            randn_source: v
                .get("randn_source")
                .and_then(Value::as_str)
                .and_then(parse_rng_source)
                .unwrap_or_default(),
        }
    }

    /// Apply a dict of settings, all or nothing. Unknown keys are ignored (as the WebUI does);
    /// sd_model_checkpoint must name a known model and makes it current.
    pub fn apply(&self, changes: &Map<String, Value>, registry: &ModelRegistry) -> Result<(), ApiError> {
        let mut problems = Vec::new();
        let mut updates = Vec::new();
        let mut model = None;
        {
            let current = self.values.read();
            for (key, value) in changes {
                if key == HASH_KEY {
                    continue;
                }
                if key == MODEL_KEY {
                    match value.as_str().map(|s| registry.find(s)) {
                        Some(Some(_)) => model = value.as_str().map(str::to_string),
                        _ => problems.push(FieldError::new(
                            key,
                            format!(
                                "model {value} not found; known models: {}",
                                registry.list().iter().map(|e| e.title()).collect::<Vec<_>>().join(", ")
                            ),
                        )),
                    }
                    continue;
                }
                let Some(default) = current.get(key) else {
                    tracing::debug!("options: ignoring unknown setting {key}");
                    continue;
                };
                match check_setting(
                    key,
                    value,
                    Some(&defaults().get(key).cloned().unwrap_or(default.clone())),
                ) {
                    Ok(v) => updates.push((key.clone(), v)),
                    Err(msg) => problems.push(FieldError::new(key, msg)),
                }
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        if let Some(m) = model {
            registry.set_current(&m)?;
        }
        let mut values = self.values.write();
        for (k, v) in updates {
            values.insert(k, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_the_settings_that_matter() {
        assert!(check_setting("CLIP_stop_at_last_layers", &json!(2), None).is_ok());
        assert!(check_setting("CLIP_stop_at_last_layers", &json!(0), None).is_err());
        assert_eq!(check_setting("randn_source", &json!("nv"), None).unwrap(), json!("NV"));
        assert!(check_setting("randn_source", &json!("TPU"), None).is_err());
        assert!(check_setting("eta_noise_seed_delta", &json!(-1), None).is_err());
        assert!(check_setting("jpeg_quality", &json!("high"), Some(&json!(80))).is_err());
    }

    #[test]
    fn the_defaults_parse() {
        let d = defaults();
        assert!(d.len() > 40);
        assert_eq!(d["CLIP_stop_at_last_layers"], json!(1));
    }

    #[test]
    fn effective_defaults() {
        let s = OptionsStore::new().effective();
        assert_eq!(s.clip_skip, 1);
        assert_eq!(s.eta_noise_seed_delta, 0);
        assert_eq!(s.randn_source, RngSource::Gpu);
    }
}
