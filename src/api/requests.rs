//! The WebUI's txt2img and img2img request bodies. Every field is optional and `null` means "not
//! set" (the WebUI default applies); fields sdgate does not use are accepted and echoed back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::lenient::{opt_bool, opt_float, opt_int, opt_string};

/// Fields shared by txt2img and img2img.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"prompt": "a cat, (masterpiece:1.2)", "negative_prompt": "lowres", "steps": 20,
    "sampler_name": "DPM++ 2M", "scheduler": "Karras", "cfg_scale": 7, "width": 512, "height": 512, "seed": -1}))]
pub struct CommonParams {
    /// The prompt (the WebUI's prompt language: emphasis, scheduling, alternation, AND, BREAK, <lora:…>).
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "", example = "a cat, (masterpiece:1.2)")]
    pub prompt: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "", example = "lowres")]
    pub negative_prompt: Option<String>,
    /// Prompt style names (applied by the prompt layer; unknown names are ignored like the WebUI does).
    #[serde(default)]
    pub styles: Option<Vec<String>>,
    /// -1 = random. Image i of the job uses seed + i.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = -1, example = 1234)]
    pub seed: Option<i64>,
    /// Variation seed; -1 = random.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = -1)]
    pub subseed: Option<i64>,
    /// 0 = no variation, 1 = the variation seed alone.
    #[serde(default, deserialize_with = "opt_float")]
    #[schema(default = 0.0, minimum = 0.0, maximum = 1.0)]
    pub subseed_strength: Option<f64>,
    /// Draw the noise as if the image were this tall (with seed_resize_from_w; -1 or 0 = off).
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = -1)]
    pub seed_resize_from_h: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = -1)]
    pub seed_resize_from_w: Option<i64>,
    /// Sampler name or alias (GET /sdapi/v1/samplers). Wins over sampler_index. Pre-1.9 names such as
    /// "DPM++ 2M Karras" are split into sampler and schedule.
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(example = "DPM++ 2M")]
    pub sampler_name: Option<String>,
    /// Legacy sampler field, used when sampler_name is empty.
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "Euler")]
    pub sampler_index: Option<String>,
    /// Schedule type (GET /sdapi/v1/schedulers); "Automatic" = the sampler's default.
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(example = "Karras")]
    pub scheduler: Option<String>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 1, minimum = 1)]
    pub batch_size: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 1, minimum = 1)]
    pub n_iter: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 50, minimum = 1, example = 20)]
    pub steps: Option<i64>,
    #[serde(default, deserialize_with = "opt_float")]
    #[schema(default = 7.0)]
    pub cfg_scale: Option<f64>,
    /// A positive multiple of the model's VAE scale factor (8 for SD models).
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 512, example = 512)]
    pub width: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 512, example = 512)]
    pub height: Option<i64>,
    /// Accepted and ignored (sdgate has no face restorer).
    #[serde(default, deserialize_with = "opt_bool")]
    pub restore_faces: Option<bool>,
    /// Accepted and ignored.
    #[serde(default, deserialize_with = "opt_bool")]
    pub tiling: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub do_not_save_samples: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub do_not_save_grid: Option<bool>,
    /// Ancestral/DDIM eta (null = the sampler's default).
    #[serde(default, deserialize_with = "opt_float")]
    pub eta: Option<f64>,
    /// img2img and hires fix strength (txt2img default 0.75 for the hires pass).
    #[serde(default, deserialize_with = "opt_float")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub denoising_strength: Option<f64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub s_min_uncond: Option<f64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub s_churn: Option<f64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub s_tmax: Option<f64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub s_tmin: Option<f64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub s_noise: Option<f64>,
    /// Per-request settings: sd_model_checkpoint, CLIP_stop_at_last_layers, eta_noise_seed_delta,
    /// randn_source ("GPU", "CPU", "NV"). Other keys are accepted and ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"CLIP_stop_at_last_layers": 2}))]
    pub override_settings: Option<Map<String, Value>>,
    /// Accepted; sdgate never changes global settings for a request, so there is nothing to restore.
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = true)]
    pub override_settings_restore_afterwards: Option<bool>,
    /// Must be empty: sdgate has no refiner.
    #[serde(default, deserialize_with = "opt_string")]
    pub refiner_checkpoint: Option<String>,
    #[serde(default, deserialize_with = "opt_float")]
    pub refiner_switch_at: Option<f64>,
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub disable_extra_networks: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub comments: Option<Value>,
    /// Must be empty: sdgate has no selectable scripts (GET /sdapi/v1/scripts).
    #[serde(default, deserialize_with = "opt_string")]
    pub script_name: Option<String>,
    /// Accepted and ignored.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub script_args: Option<Vec<Value>>,
    /// Return the images in the response (false: only parameters and info).
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = true)]
    pub send_images: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub save_images: Option<bool>,
    /// Accepted and ignored (clients send `{}`); sdgate runs no always-on scripts.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub alwayson_scripts: Option<Map<String, Value>>,
    /// An infotext whose values fill the fields this request does not set.
    #[serde(default, deserialize_with = "opt_string")]
    pub infotext: Option<String>,
    /// Accepted (the WebUI's task id for its UI progress).
    #[serde(default, deserialize_with = "opt_string")]
    pub force_task_id: Option<String>,
}

/// POST /sdapi/v1/txt2img.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"prompt": "a cat", "steps": 20, "width": 512, "height": 512, "sampler_name": "Euler a"}))]
pub struct Txt2ImgRequest {
    #[serde(flatten)]
    pub common: CommonParams,
    /// Hires fix: generate at width×height, upscale, then a second img2img pass.
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub enable_hr: Option<bool>,
    /// Deprecated; accepted and ignored.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub firstphase_width: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub firstphase_height: Option<i64>,
    #[serde(default, deserialize_with = "opt_float")]
    #[schema(default = 2.0)]
    pub hr_scale: Option<f64>,
    /// A latent mode (GET /sdapi/v1/latent-upscale-modes) or an upscaler (GET /sdapi/v1/upscalers).
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "Latent")]
    pub hr_upscaler: Option<String>,
    /// 0 = the same as steps.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub hr_second_pass_steps: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub hr_resize_x: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub hr_resize_y: Option<i64>,
    /// Must be empty or name the same model.
    #[serde(default, deserialize_with = "opt_string")]
    pub hr_checkpoint_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub hr_sampler_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub hr_scheduler: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "")]
    pub hr_prompt: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    #[schema(default = "")]
    pub hr_negative_prompt: Option<String>,
    /// Accepted and ignored.
    #[serde(default, deserialize_with = "opt_string")]
    pub firstpass_image: Option<String>,
}

/// POST /sdapi/v1/img2img.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"prompt": "a cat", "init_images": ["<base64 PNG>"], "denoising_strength": 0.6}))]
pub struct Img2ImgRequest {
    #[serde(flatten)]
    pub common: CommonParams,
    /// Base64 images (PNG, JPEG or WebP; a `data:` prefix is allowed). At most batch_size of them;
    /// the batch cycles through them.
    #[serde(default)]
    pub init_images: Option<Vec<String>>,
    /// 0 just resize, 1 crop and resize, 2 resize and fill, 3 latent upscale.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0, minimum = 0, maximum = 3)]
    pub resize_mode: Option<i64>,
    /// Accepted and ignored (instruct-pix2pix models only).
    #[serde(default, deserialize_with = "opt_float")]
    pub image_cfg_scale: Option<f64>,
    /// Base64 inpainting mask (white = repaint).
    #[serde(default, deserialize_with = "opt_string")]
    pub mask: Option<String>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 4)]
    pub mask_blur_x: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 4)]
    pub mask_blur_y: Option<i64>,
    /// Sets mask_blur_x and mask_blur_y.
    #[serde(default, deserialize_with = "opt_int")]
    pub mask_blur: Option<i64>,
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = true)]
    pub mask_round: Option<bool>,
    /// 0 fill, 1 original, 2 latent noise, 3 latent nothing.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0, minimum = 0, maximum = 3)]
    pub inpainting_fill: Option<i64>,
    /// Inpaint only the masked area (at full resolution).
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = true)]
    pub inpaint_full_res: Option<bool>,
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0)]
    pub inpaint_full_res_padding: Option<i64>,
    /// 1 = repaint the black part of the mask instead.
    #[serde(default, deserialize_with = "opt_int")]
    #[schema(default = 0, minimum = 0, maximum = 1)]
    pub inpainting_mask_invert: Option<i64>,
    #[serde(default, deserialize_with = "opt_float")]
    pub initial_noise_multiplier: Option<f64>,
    /// Accepted and ignored.
    #[serde(default, deserialize_with = "opt_string")]
    pub latent_mask: Option<String>,
    /// Echo init_images and mask in `parameters`.
    #[serde(default, deserialize_with = "opt_bool")]
    #[schema(default = false)]
    pub include_init_images: Option<bool>,
}

/// (field, its WebUI default).
type Defaults = &'static [(&'static str, fn() -> Value)];

/// The WebUI defaults that fill unset fields in the `parameters` echo.
const COMMON_DEFAULTS: Defaults = &[
    ("prompt", || "".into()),
    ("negative_prompt", || "".into()),
    ("seed", || (-1).into()),
    ("subseed", || (-1).into()),
    ("subseed_strength", || 0.into()),
    ("seed_resize_from_h", || (-1).into()),
    ("seed_resize_from_w", || (-1).into()),
    ("sampler_index", || "Euler".into()),
    ("batch_size", || 1.into()),
    ("n_iter", || 1.into()),
    ("steps", || 50.into()),
    ("cfg_scale", || 7.0.into()),
    ("width", || 512.into()),
    ("height", || 512.into()),
    ("do_not_save_samples", || false.into()),
    ("do_not_save_grid", || false.into()),
    ("override_settings_restore_afterwards", || true.into()),
    ("disable_extra_networks", || false.into()),
    ("script_args", || Value::Array(vec![])),
    ("send_images", || true.into()),
    ("save_images", || false.into()),
    ("alwayson_scripts", || Value::Object(Map::new())),
];

const TXT2IMG_DEFAULTS: Defaults = &[
    ("enable_hr", || false.into()),
    ("denoising_strength", || 0.75.into()),
    ("firstphase_width", || 0.into()),
    ("firstphase_height", || 0.into()),
    ("hr_scale", || 2.0.into()),
    ("hr_second_pass_steps", || 0.into()),
    ("hr_resize_x", || 0.into()),
    ("hr_resize_y", || 0.into()),
    ("hr_prompt", || "".into()),
    ("hr_negative_prompt", || "".into()),
];

const IMG2IMG_DEFAULTS: Defaults = &[
    ("denoising_strength", || 0.75.into()),
    ("resize_mode", || 0.into()),
    ("mask_blur_x", || 4.into()),
    ("mask_blur_y", || 4.into()),
    ("mask_round", || true.into()),
    ("inpainting_fill", || 0.into()),
    ("inpaint_full_res", || true.into()),
    ("inpaint_full_res_padding", || 0.into()),
    ("inpainting_mask_invert", || 0.into()),
    ("include_init_images", || false.into()),
];

fn fill(mut v: Value, tables: &[Defaults]) -> Value {
    if let Value::Object(map) = &mut v {
        for table in tables {
            for (key, default) in table.iter() {
                let slot = map.entry(key.to_string()).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = default();
                }
            }
        }
    }
    v
}

impl Txt2ImgRequest {
    /// The WebUI's `parameters`: the request as sent, unset fields at their defaults.
    pub fn echo(&self) -> Value {
        fill(
            serde_json::to_value(self).unwrap_or_default(),
            &[COMMON_DEFAULTS, TXT2IMG_DEFAULTS],
        )
    }
}

impl Img2ImgRequest {
    /// The WebUI's `parameters`; init_images and mask are blanked unless include_init_images.
    pub fn echo(&self) -> Value {
        let mut v = fill(
            serde_json::to_value(self).unwrap_or_default(),
            &[COMMON_DEFAULTS, IMG2IMG_DEFAULTS],
        );
        if !self.include_init_images.unwrap_or(false)
            && let Value::Object(map) = &mut v
        {
            map.insert("init_images".into(), Value::Null);
            map.insert("mask".into(), Value::Null);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_fills_webui_defaults_and_keeps_what_was_sent() {
        let req: Txt2ImgRequest =
            serde_json::from_str(r#"{"prompt": "cat", "steps": 20, "sampler_name": null}"#).unwrap();
        let e = req.echo();
        assert_eq!(e["prompt"], "cat");
        assert_eq!(e["steps"], 20);
        assert_eq!(e["width"], 512);
        assert_eq!(e["sampler_index"], "Euler");
        assert_eq!(e["seed"], -1);
        assert!(e["sampler_name"].is_null());
        assert_eq!(e["enable_hr"], false);
    }

    #[test]
    fn img2img_echo_blanks_images() {
        let req: Img2ImgRequest = serde_json::from_str(r#"{"init_images": ["abc"], "mask": "m"}"#).unwrap();
        let e = req.echo();
        assert!(e["init_images"].is_null());
        assert!(e["mask"].is_null());
        assert_eq!(e["denoising_strength"], 0.75);
    }
}
