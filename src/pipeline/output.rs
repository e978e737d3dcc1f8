//! What a finished job hands back.

/// One generated image.
#[derive(Debug, Clone)]
pub struct GeneratedImage {
    /// PNG bytes with the infotext in the "parameters" chunk.
    pub png: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub seed: u64,
    pub subseed: u64,
    pub prompt: String,
    pub negative_prompt: String,
    /// The WebUI's infotext for this image.
    pub infotext: String,
    /// Final latents `[C, h, w]`, when asked for.
    pub latents: Option<ndarray::Array3<f32>>,
}

/// The WebUI's `info` for a whole job (serialised by the API as a JSON string).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GenerationInfo {
    pub prompt: String,
    pub all_prompts: Vec<String>,
    pub negative_prompt: String,
    pub all_negative_prompts: Vec<String>,
    pub seed: u64,
    pub all_seeds: Vec<u64>,
    pub subseed: u64,
    pub all_subseeds: Vec<u64>,
    pub subseed_strength: f32,
    pub width: usize,
    pub height: usize,
    pub sampler_name: String,
    pub cfg_scale: f32,
    pub steps: usize,
    pub batch_size: usize,
    pub restore_faces: bool,
    pub face_restoration_model: Option<String>,
    pub sd_model_name: String,
    pub sd_model_hash: Option<String>,
    pub sd_vae_name: Option<String>,
    pub sd_vae_hash: Option<String>,
    pub seed_resize_from_w: i64,
    pub seed_resize_from_h: i64,
    pub denoising_strength: Option<f32>,
    pub extra_generation_params: serde_json::Map<String, serde_json::Value>,
    pub index_of_first_image: usize,
    pub infotexts: Vec<String>,
    pub styles: Vec<String>,
    pub job_timestamp: String,
    pub clip_skip: usize,
    pub is_using_inpainting_conditioning: bool,
    pub version: String,
}

#[derive(Debug, Clone)]
pub struct GenerationOutput {
    pub images: Vec<GeneratedImage>,
    pub info: GenerationInfo,
    /// True when the job was interrupted (the images are what was done by then).
    pub interrupted: bool,
}
