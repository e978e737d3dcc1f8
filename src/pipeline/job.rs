//! The validated generation job: what the HTTP layer hands to the device workers.
//! Every value here has been checked and resolved (no -1 seeds, no unknown names, sizes that fit
//! the model); building one is the API layer's validation step.

use std::sync::Arc;

use crate::models::ModelFolder;

/// 8-bit RGB and single-channel (mask) images, as the images module decodes them.
pub use image::{GrayImage, RgbImage};

/// Where the starting noise comes from (the WebUI's "Random number generator source").
pub use crate::rng::RngSource;

#[derive(Debug, Clone, PartialEq)]
pub struct SeedSettings {
    /// The first image's seed; image i of the whole job uses `seed + i`.
    pub seed: u64,
    pub subseed: u64,
    /// 0 = no variation.
    pub subseed_strength: f32,
    /// seed_resize_from_w/h when both are positive.
    pub resize_from: Option<(usize, usize)>,
    pub source: RngSource,
    /// eta_noise_seed_delta (ENSD).
    pub eta_noise_seed_delta: u64,
}

/// Per-request sampler parameters (None = the sampler's / WebUI's default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplerParams {
    pub eta: Option<f32>,
    pub s_churn: Option<f32>,
    pub s_tmin: Option<f32>,
    pub s_tmax: Option<f32>,
    pub s_noise: Option<f32>,
    pub s_min_uncond: Option<f32>,
}

/// The sampler and schedule, by their canonical WebUI names (already checked to exist).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerChoice {
    pub sampler: String,
    /// The schedule's canonical name; "Automatic" = the sampler's default.
    pub scheduler: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HiresFix {
    /// Final size (already resolved from hr_scale or hr_resize_x/y, fits the model).
    pub width: usize,
    pub height: usize,
    /// "Latent", "Latent (bicubic)", ... or a pixel upscaler name.
    pub upscaler: String,
    /// 0 = use `steps`.
    pub second_pass_steps: usize,
    pub denoising_strength: f32,
    pub sampler: Option<SamplerChoice>,
    pub prompt: Option<String>,
    pub negative_prompt: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inpainting {
    pub mask: GrayImage,
    pub mask_blur_x: usize,
    pub mask_blur_y: usize,
    /// 0 fill, 1 original, 2 latent noise, 3 latent nothing.
    pub inpainting_fill: u8,
    pub inpaint_full_res: bool,
    pub inpaint_full_res_padding: usize,
    pub mask_invert: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Txt2Img {
        hires: Option<HiresFix>,
    },
    Img2Img {
        /// One image, or one per batch entry (the WebUI cycles through them).
        init_images: Vec<RgbImage>,
        /// 0 just resize, 1 crop and resize, 2 resize and fill, 3 latent upscale.
        resize_mode: u8,
        denoising_strength: f32,
        initial_noise_multiplier: Option<f32>,
        inpainting: Option<Inpainting>,
    },
}

/// What to send back and keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputOptions {
    /// Return the final latents beside the images.
    pub return_latents: bool,
    /// Make a preview every N steps (0 = none).
    pub preview_every: usize,
}

/// A fully validated job.
#[derive(Debug, Clone)]
pub struct GenerationJob {
    /// The model this job runs on (resolved when it was accepted, so a later model switch never
    /// changes a queued job).
    pub model: Arc<ModelFolder>,
    pub mode: Mode,
    pub prompt: String,
    pub negative_prompt: String,
    pub styles: Vec<String>,
    pub sampler: SamplerChoice,
    pub params: SamplerParams,
    pub steps: usize,
    pub cfg_scale: f32,
    pub width: usize,
    pub height: usize,
    pub batch_size: usize,
    pub n_iter: usize,
    pub seed: SeedSettings,
    /// CLIP skip (1 = last layer).
    pub clip_skip: usize,
    pub output: OutputOptions,
}

impl GenerationJob {
    /// Images the job will produce.
    pub fn image_count(&self) -> usize {
        self.batch_size * self.n_iter
    }
}
