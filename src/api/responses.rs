//! Response bodies of the WebUI-compatible routes (shapes as the WebUI answers them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// txt2img / img2img answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GenerationResponse {
    /// Raw base64 PNGs (no `data:` prefix), with the infotext in the "parameters" text chunk.
    pub images: Vec<String>,
    /// The request echoed, unset fields at their defaults (img2img blanks init_images and mask).
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// A JSON *string* (json.loads it): prompt, all_prompts, seed, all_seeds, infotexts, ...
    pub info: String,
}

/// The WebUI's `shared.state.dict()`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ProgressState {
    pub skipped: bool,
    pub interrupted: bool,
    pub stopping_generation: bool,
    /// The job's id ("" when idle).
    pub job: String,
    /// n_iter of the current job (0 when idle).
    pub job_count: i64,
    /// When the job started, "YYYYmmddHHMMSS" ("0" when idle).
    pub job_timestamp: String,
    pub job_no: i64,
    pub sampling_step: i64,
    pub sampling_steps: i64,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ProgressResponse {
    /// 0..1 (0 when idle).
    pub progress: f64,
    /// Seconds left, estimated.
    pub eta_relative: f64,
    pub state: ProgressState,
    /// Base64 PNG preview of the current job (null when none or skip_current_image).
    pub current_image: Option<String>,
    pub textinfo: Option<String>,
    /// The job's id, or null when idle.
    pub current_task: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SdModelItem {
    /// "name [short hash]" — what sd_model_checkpoint takes.
    pub title: String,
    pub model_name: String,
    /// First 10 hex digits of the checkpoint's SHA-256.
    pub hash: Option<String>,
    pub sha256: Option<String>,
    pub filename: String,
    pub config: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SamplerItem {
    pub name: String,
    pub aliases: Vec<String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SchedulerItem {
    pub name: String,
    pub label: String,
    pub aliases: Option<Vec<String>>,
    /// -1 when the schedule has no rho.
    pub default_rho: f64,
    pub need_inner_model: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpscalerItem {
    pub name: String,
    pub model_name: Option<String>,
    pub model_path: Option<String>,
    pub model_url: Option<String>,
    pub scale: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LatentUpscalerModeItem {
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingItem {
    pub step: Option<i64>,
    pub sd_checkpoint: Option<String>,
    pub sd_checkpoint_name: Option<String>,
    /// Width of each vector.
    pub shape: i64,
    pub vectors: i64,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsResponse {
    pub loaded: BTreeMap<String, EmbeddingItem>,
    pub skipped: BTreeMap<String, EmbeddingItem>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PngInfoRequest {
    /// A base64 image (a `data:` prefix is allowed).
    #[serde(default)]
    pub image: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PngInfoResponse {
    /// The "parameters" text (the infotext), "" when none.
    pub info: String,
    /// The other text chunks.
    #[schema(value_type = Object)]
    pub items: Map<String, Value>,
    /// The infotext parsed (Prompt, Negative prompt, Steps, Sampler, Size-1, Size-2, ...).
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// POST /sdapi/v1/extra-single-image (accepted, answered 501: no upscaler yet).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ExtrasSingleImageRequest {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub resize_mode: Option<i64>,
    #[serde(default)]
    pub show_extras_results: Option<bool>,
    #[serde(default)]
    pub gfpgan_visibility: Option<f64>,
    #[serde(default)]
    pub codeformer_visibility: Option<f64>,
    #[serde(default)]
    pub codeformer_weight: Option<f64>,
    #[serde(default)]
    pub upscaling_resize: Option<f64>,
    #[serde(default)]
    pub upscaling_resize_w: Option<i64>,
    #[serde(default)]
    pub upscaling_resize_h: Option<i64>,
    #[serde(default)]
    pub upscaling_crop: Option<bool>,
    #[serde(default)]
    pub upscaler_1: Option<String>,
    #[serde(default)]
    pub upscaler_2: Option<String>,
    #[serde(default)]
    pub extras_upscaler_2_visibility: Option<f64>,
    #[serde(default)]
    pub upscale_first: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemoryResponse {
    /// {free, used, total} bytes of the machine.
    #[schema(value_type = Object)]
    pub ram: Value,
    /// Per device worker, or {error} when there is none.
    #[schema(value_type = Object)]
    pub cuda: Value,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ScriptsList {
    pub txt2img: Vec<String>,
    pub img2img: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScriptInfo {
    pub name: String,
    pub is_alwayson: bool,
    pub is_img2img: bool,
    #[schema(value_type = Vec<Object>)]
    pub args: Vec<Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SdVaeItem {
    pub model_name: String,
    pub filename: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HypernetworkItem {
    pub name: String,
    pub path: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FaceRestorerItem {
    pub name: String,
    pub cmd_dir: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RealesrganItem {
    pub name: String,
    pub path: Option<String>,
    pub scale: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromptStyleItem {
    pub name: String,
    pub prompt: Option<String>,
    pub negative_prompt: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoraItem {
    pub name: String,
    pub alias: String,
    pub path: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExtensionItem {
    pub name: String,
    pub remote: String,
    pub branch: String,
    pub commit_hash: String,
    pub version: String,
    pub commit_date: i64,
    pub enabled: bool,
}
