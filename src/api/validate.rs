//! Validation is a change of type: a WebUI request becomes a [`GenerationJob`] whose every value has
//! been checked and resolved (model chosen, sizes fit the model, sampler known, seeds drawn, images
//! decoded). Nothing unvalidated reaches the queue. All problems are reported at once.

use serde_json::{Map, Value};

use super::catalog;
use super::error::{ApiError, FieldError};
use super::options::{EffectiveSettings, check_setting, parse_rng_source};
use super::requests::{CommonParams, Img2ImgRequest, Txt2ImgRequest};
use crate::images::{Limits as ImageLimits, decode_init_image, decode_mask};
use crate::models::{ModelEntry, ModelRegistry};
use crate::pipeline::GenerationJob;
use crate::pipeline::job::{HiresFix, Inpainting, Mode, OutputOptions, SamplerChoice, SamplerParams, SeedSettings};
use crate::samplers::SamplerError;

/// Limits on what one request may ask for.
#[derive(Debug, Clone)]
pub struct GenerationLimits {
    pub max_side: usize,
    pub max_pixels: usize,
    pub max_steps: usize,
    pub max_batch_size: usize,
    pub max_n_iter: usize,
    pub max_images: usize,
    pub max_prompt_chars: usize,
    /// Latent pixels (width/f × height/f, f the model's VAE factor) times batch_size, per UNet pass:
    /// what activation memory grows with. Image-pixel limits alone let a model with a small VAE
    /// factor (the tiny one: 2) ask for 16× the latents of SD's 8 at the same size, and the
    /// attention's memory grows with their square: a 512×512 tiny-model job was OOM-killed on a
    /// 24 GB CPU machine (scripts/fuzz-api's findings, F1).
    pub max_latent_pixels: usize,
    /// Limits on uploaded images.
    pub image: ImageLimits,
}

impl Default for GenerationLimits {
    fn default() -> Self {
        GenerationLimits {
            max_side: 2048,
            max_pixels: 2048 * 2048,
            max_steps: 150,
            max_batch_size: 16,
            max_n_iter: 100,
            max_images: 100,
            max_prompt_chars: 20_000,
            max_latent_pixels: 128 * 128,
            image: ImageLimits {
                max_encoded_bytes: 50 * 1024 * 1024,
                max_side: 8192,
                max_pixels: 8192 * 4096,
            },
        }
    }
}

pub struct ValidationContext<'a> {
    pub registry: &'a ModelRegistry,
    pub settings: EffectiveSettings,
    /// Preview every N steps (0 = none).
    pub preview_every: usize,
    pub limits: &'a GenerationLimits,
}

/// A validated request.
#[derive(Debug)]
pub struct Validated {
    pub job: GenerationJob,
    /// The title of the model the job runs on.
    pub model_title: String,
}

/// Collects every problem of a request.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.push(FieldError::new(field, msg));
    }

    fn int(&mut self, field: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> i64 {
        let v = v.unwrap_or(default);
        if v < lo || v > hi {
            self.add(field, format!("must be from {lo} to {hi} (got {v})"));
            return default.clamp(lo, hi);
        }
        v
    }

    fn float(&mut self, field: &str, v: Option<f64>, default: f64, lo: f64, hi: f64) -> f32 {
        let v = v.unwrap_or(default);
        if !v.is_finite() || v < lo || v > hi {
            self.add(field, format!("must be from {lo} to {hi} (got {v})"));
            return default as f32;
        }
        v as f32
    }

    fn opt_float(&mut self, field: &str, v: Option<f64>, lo: f64, hi: f64) -> Option<f32> {
        v.map(|x| self.float(field, Some(x), lo.max(0.0), lo, hi))
    }

    fn finish(&mut self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(std::mem::take(&mut self.0)))
        }
    }
}

/// A seed: -1 (or unset) draws one as the WebUI does; other negatives are refused.
fn seed(p: &mut Problems, field: &str, v: Option<i64>) -> u64 {
    match v {
        None | Some(-1) => rand::random_range(0..4_294_967_294u64),
        Some(s) if s >= 0 => s as u64,
        Some(s) => {
            p.add(
                field,
                format!("must be -1 (random) or a non-negative integer (got {s})"),
            );
            0
        }
    }
}

/// One UNet pass of `batch_size` images at width×height must fit the latent budget.
fn latent_budget(
    p: &mut Problems,
    field: &str,
    width: usize,
    height: usize,
    batch: usize,
    factor: usize,
    limits: &GenerationLimits,
) {
    let latents = (width / factor.max(1)) * (height / factor.max(1)) * batch;
    if latents > limits.max_latent_pixels {
        let side = ((limits.max_latent_pixels as f64).sqrt() as usize) * factor;
        p.add(
            field,
            format!(
                "{width}×{height} × batch_size {batch} is {latents} latent pixels (VAE factor {factor}), over this \
                 server's {} (--max-latent-pixels; about one {side}×{side} image with this model)",
                limits.max_latent_pixels
            ),
        );
    }
}

fn size(p: &mut Problems, field: &str, v: Option<i64>, factor: usize, limits: &GenerationLimits) -> usize {
    let v = v.unwrap_or(512);
    let f = factor as i64;
    if v < f || v % f != 0 || v > limits.max_side as i64 {
        p.add(
            field,
            format!(
                "must be a positive multiple of {factor} (the model's VAE scale factor) up to {} (got {v})",
                limits.max_side
            ),
        );
        return factor.max(8);
    }
    v as usize
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A sampler name (or alias, or a pre-1.9 "Name Schedule" form) and a schedule → canonical names.
fn resolve_sampler(sampler: Option<&str>, scheduler: Option<&str>) -> Result<SamplerChoice, SamplerError> {
    let spec = crate::samplers::SamplerSpec::resolve(sampler.unwrap_or(""), scheduler)?;
    // As the WebUI's API (convert_automatic): "Automatic" becomes the sampler's default schedule.
    let scheduler = spec.effective_schedule().map_or("Automatic", |s| s.info().label);
    Ok(SamplerChoice {
        sampler: spec.name().to_string(),
        scheduler: scheduler.to_string(),
    })
}

fn sampler_problem(p: &mut Problems, e: SamplerError, sampler_field: &str, scheduler_field: &str) {
    match e {
        SamplerError::UnknownSchedule { .. } => p.add(scheduler_field, e.to_string()),
        _ => p.add(sampler_field, e.to_string()),
    }
}

/// Fill fields the request leaves unset from its `infotext` (the WebUI's apply_infotext).
fn apply_infotext(c: &mut CommonParams, extra: &mut Map<String, Value>, p: &mut Problems) {
    let Some(text) = nonempty(&c.infotext).map(str::to_string) else {
        return;
    };
    let params: Map<String, Value> = crate::images::ParsedInfotext::parse(&text)
        .to_webui_dict()
        .into_iter()
        .collect();
    let get = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.as_str().map(str::to_string).or(Some(v.to_string())))
    };
    let int = |k: &str, slot: &mut Option<i64>, p: &mut Problems| {
        if slot.is_none()
            && let Some(v) = get(k)
        {
            match v.trim().parse::<i64>() {
                Ok(n) => *slot = Some(n),
                Err(_) => p.add("infotext", format!("{k}: {v:?} is not an integer")),
            }
        }
    };
    int("Steps", &mut c.steps, p);
    int("Seed", &mut c.seed, p);
    int("Size-1", &mut c.width, p);
    int("Size-2", &mut c.height, p);
    int("Variation seed", &mut c.subseed, p);
    int("Seed resize from-1", &mut c.seed_resize_from_w, p);
    int("Seed resize from-2", &mut c.seed_resize_from_h, p);
    let float = |k: &str, slot: &mut Option<f64>, p: &mut Problems| {
        if slot.is_none()
            && let Some(v) = get(k)
        {
            match v.trim().parse::<f64>() {
                Ok(n) => *slot = Some(n),
                Err(_) => p.add("infotext", format!("{k}: {v:?} is not a number")),
            }
        }
    };
    float("CFG scale", &mut c.cfg_scale, p);
    float("Variation seed strength", &mut c.subseed_strength, p);
    float("Denoising strength", &mut c.denoising_strength, p);
    let text = |k: &str, slot: &mut Option<String>| {
        if slot.is_none() {
            *slot = get(k);
        }
    };
    text("Prompt", &mut c.prompt);
    text("Negative prompt", &mut c.negative_prompt);
    text("Sampler", &mut c.sampler_name);
    text("Schedule type", &mut c.scheduler);
    let overrides = c.override_settings.get_or_insert_with(Map::new);
    for (label, key) in [
        ("Clip skip", "CLIP_stop_at_last_layers"),
        ("ENSD", "eta_noise_seed_delta"),
        ("RNG", "randn_source"),
    ] {
        if !overrides.contains_key(key)
            && let Some(v) = get(label)
        {
            let value = v.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(v));
            overrides.insert(key.into(), value);
        }
    }
    for (label, key) in [
        ("Hires upscale", "hr_scale"),
        ("Hires upscaler", "hr_upscaler"),
        ("Hires steps", "hr_second_pass_steps"),
    ] {
        if let Some(v) = get(label) {
            extra.insert(key.into(), v.into());
        }
    }
}

/// What txt2img and img2img share, resolved.
struct Common {
    model: ModelEntry,
    job: GenerationJob,
}

fn common(
    c: &CommonParams,
    ctx: &ValidationContext<'_>,
    p: &mut Problems,
    is_img2img: bool,
) -> Result<Common, ApiError> {
    let limits = ctx.limits;
    let overrides = c.override_settings.clone().unwrap_or_default();

    // The model: per request, else the current one.
    let model = match overrides.get(super::options::MODEL_KEY) {
        Some(Value::String(wanted)) if !wanted.trim().is_empty() => match ctx.registry.find(wanted) {
            Some(m) => Some(m),
            None => {
                p.add(
                    "override_settings.sd_model_checkpoint",
                    format!(
                        "model {wanted:?} not found; known models: {}",
                        ctx.registry
                            .list()
                            .iter()
                            .map(|e| e.title())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                ctx.registry.current()
            }
        },
        Some(Value::Null | Value::String(_)) | None => ctx.registry.current(),
        Some(other) => {
            p.add(
                "override_settings.sd_model_checkpoint",
                format!("must be a model title (got {other})"),
            );
            ctx.registry.current()
        }
    };
    let Some(model) = model else {
        return Err(ApiError::NotReady(
            "no model is loaded; start sdgate with --model-dir (or --ckpt-dir)".into(),
        ));
    };
    let m = &model.folder.manifest;
    let factor = m.vae_scale_factor;

    let width = size(p, "width", c.width, factor, limits);
    let height = size(p, "height", c.height, factor, limits);
    if width * height > limits.max_pixels {
        p.add(
            "width",
            format!(
                "width × height must be at most {} pixels (got {width}×{height})",
                limits.max_pixels
            ),
        );
    }
    let steps = p.int("steps", c.steps, 50, 1, limits.max_steps as i64) as usize;
    let batch_size = p.int("batch_size", c.batch_size, 1, 1, limits.max_batch_size as i64) as usize;
    let n_iter = p.int("n_iter", c.n_iter, 1, 1, limits.max_n_iter as i64) as usize;
    latent_budget(p, "width", width, height, batch_size, factor, limits);
    if batch_size * n_iter > limits.max_images {
        p.add(
            "n_iter",
            format!(
                "batch_size × n_iter must be at most {} images (got {})",
                limits.max_images,
                batch_size * n_iter
            ),
        );
    }
    let cfg_scale = p.float("cfg_scale", c.cfg_scale, 7.0, 0.0, 100.0);
    let prompt = c.prompt.clone().unwrap_or_default();
    let negative_prompt = c.negative_prompt.clone().unwrap_or_default();
    for (field, text) in [("prompt", &prompt), ("negative_prompt", &negative_prompt)] {
        let n = text.chars().count();
        if n > limits.max_prompt_chars {
            p.add(
                field,
                format!("must be at most {} characters (got {n})", limits.max_prompt_chars),
            );
        }
    }
    let styles = c.styles.clone().unwrap_or_default();
    if styles.len() > 64 {
        p.add("styles", "at most 64 styles");
    }

    // Seeds.
    let seed_value = seed(p, "seed", c.seed);
    let subseed = seed(p, "subseed", c.subseed);
    let subseed_strength = p.float("subseed_strength", c.subseed_strength, 0.0, 0.0, 1.0);
    let resize_from = match (c.seed_resize_from_w.unwrap_or(-1), c.seed_resize_from_h.unwrap_or(-1)) {
        (w, h) if w > 0 && h > 0 => {
            let max = limits.max_side as i64;
            if w > max || h > max || w < factor as i64 || h < factor as i64 {
                p.add(
                    "seed_resize_from_w",
                    format!("seed resize sizes must be from {factor} to {max} (got {w}×{h})"),
                );
                None
            } else {
                Some((w as usize, h as usize))
            }
        }
        _ => None,
    };

    // Settings: per request, else the server's.
    let mut settings = ctx.settings;
    for key in ["CLIP_stop_at_last_layers", "eta_noise_seed_delta", "randn_source"] {
        let Some(v) = overrides.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        match check_setting(key, v, None) {
            Err(msg) => p.add(&format!("override_settings.{key}"), msg),
            Ok(v) => match key {
                "CLIP_stop_at_last_layers" => settings.clip_skip = v.as_u64().unwrap_or(1) as usize,
                "eta_noise_seed_delta" => settings.eta_noise_seed_delta = v.as_u64().unwrap_or(0),
                _ => settings.randn_source = v.as_str().and_then(parse_rng_source).unwrap_or_default(),
            },
        }
    }
    if settings.clip_skip > m.text.num_hidden_layers {
        p.add(
            "override_settings.CLIP_stop_at_last_layers",
            format!(
                "this model's text encoder has {} layers (got {})",
                m.text.num_hidden_layers, settings.clip_skip
            ),
        );
    }

    // Sampler: sampler_name wins over sampler_index (the WebUI's `sampler_name or sampler_index`).
    let (sampler_field, sampler_name) = match nonempty(&c.sampler_name) {
        Some(s) => ("sampler_name", Some(s)),
        None => ("sampler_index", Some(nonempty(&c.sampler_index).unwrap_or("Euler"))),
    };
    let sampler = match resolve_sampler(sampler_name, nonempty(&c.scheduler)) {
        Ok(s) => s,
        Err(e) => {
            sampler_problem(p, e, sampler_field, "scheduler");
            SamplerChoice {
                sampler: String::new(),
                scheduler: String::new(),
            }
        }
    };
    let params = SamplerParams {
        eta: p.opt_float("eta", c.eta, 0.0, 100.0),
        s_churn: p.opt_float("s_churn", c.s_churn, 0.0, 100.0),
        s_tmin: p.opt_float("s_tmin", c.s_tmin, 0.0, 1.0e6),
        s_tmax: p.opt_float("s_tmax", c.s_tmax, 0.0, 1.0e6),
        s_noise: p.opt_float("s_noise", c.s_noise, 0.0, 100.0),
        s_min_uncond: p.opt_float("s_min_uncond", c.s_min_uncond, 0.0, 100.0),
    };

    // What sdgate cannot honour is refused rather than silently dropped.
    if let Some(name) = nonempty(&c.script_name) {
        p.add(
            "script_name",
            format!("script {name:?} not found: sdgate has no selectable scripts"),
        );
    }
    if let Some(name) = nonempty(&c.refiner_checkpoint).filter(|n| !n.eq_ignore_ascii_case("None")) {
        p.add("refiner_checkpoint", format!("{name:?}: sdgate has no refiner support"));
    }
    let _ = is_img2img;

    Ok(Common {
        job: GenerationJob {
            model: model.folder.clone(),
            mode: Mode::Txt2Img { hires: None },
            prompt,
            negative_prompt,
            styles,
            sampler,
            params,
            steps,
            cfg_scale,
            width,
            height,
            batch_size,
            n_iter,
            seed: SeedSettings {
                seed: seed_value,
                subseed,
                subseed_strength,
                resize_from,
                source: settings.randn_source,
                eta_noise_seed_delta: settings.eta_noise_seed_delta,
            },
            clip_skip: settings.clip_skip,
            output: OutputOptions {
                return_latents: false,
                preview_every: ctx.preview_every,
            },
        },
        model,
    })
}

/// The hires-fix target size, as the WebUI computes it, rounded down to the model's scale factor.
fn hires_target(w: usize, h: usize, scale: f64, rx: i64, ry: i64) -> (i64, i64) {
    let (w, h) = (w as i64, h as i64);
    if rx <= 0 && ry <= 0 {
        ((w as f64 * scale) as i64, (h as f64 * scale) as i64)
    } else if ry <= 0 {
        (rx, rx * h / w)
    } else if rx <= 0 {
        (ry * w / h, ry)
    } else if (w as f64 / h as f64) < (rx as f64 / ry as f64) {
        (rx, rx * h / w)
    } else {
        (ry * w / h, ry)
    }
}

pub fn txt2img(req: &Txt2ImgRequest, ctx: &ValidationContext<'_>) -> Result<Validated, ApiError> {
    let mut p = Problems::default();
    let mut req = req.clone();
    let mut extra = Map::new();
    apply_infotext(&mut req.common, &mut extra, &mut p);
    let enable_hr = req.enable_hr.unwrap_or(false) || (req.enable_hr.is_none() && !extra.is_empty());
    let from_info = |k: &str| extra.get(k).and_then(Value::as_str).map(str::to_string);
    let hr_scale = req
        .hr_scale
        .or_else(|| from_info("hr_scale").and_then(|s| s.parse().ok()));
    let hr_upscaler = req.hr_upscaler.clone().or_else(|| from_info("hr_upscaler"));
    let hr_steps = req
        .hr_second_pass_steps
        .or_else(|| from_info("hr_second_pass_steps").and_then(|s| s.parse().ok()));

    let Common { model, mut job } = common(&req.common, ctx, &mut p, false)?;
    let limits = ctx.limits;
    if enable_hr {
        let factor = model.folder.manifest.vae_scale_factor as i64;
        let scale = hr_scale.unwrap_or(2.0);
        if !scale.is_finite() || scale <= 0.0 || scale > 8.0 {
            p.add("hr_scale", format!("must be above 0 and at most 8 (got {scale})"));
        }
        let rx = p.int("hr_resize_x", req.hr_resize_x, 0, 0, limits.max_side as i64);
        let ry = p.int("hr_resize_y", req.hr_resize_y, 0, 0, limits.max_side as i64);
        let (tw, th) = hires_target(job.width, job.height, scale.clamp(0.01, 8.0), rx, ry);
        let (tw, th) = (tw / factor * factor, th / factor * factor);
        if tw < factor || th < factor || tw > limits.max_side as i64 || th > limits.max_side as i64 {
            p.add(
                "hr_scale",
                format!(
                    "the hires size {tw}×{th} must be from {factor} to {} per side",
                    limits.max_side
                ),
            );
        } else if (tw * th) as usize > limits.max_pixels {
            p.add(
                "hr_scale",
                format!("the hires size {tw}×{th} is over {} pixels", limits.max_pixels),
            );
        } else {
            latent_budget(
                &mut p,
                "hr_scale",
                tw as usize,
                th as usize,
                job.batch_size,
                factor as usize,
                limits,
            );
        }
        let upscaler = match nonempty(&hr_upscaler) {
            None => "Latent",
            Some(name) => catalog::hires_upscaler(name).unwrap_or_else(|| {
                p.add(
                    "hr_upscaler",
                    format!(
                        "unknown upscaler {name:?}; valid: {}",
                        catalog::LATENT_UPSCALE_MODES
                            .iter()
                            .chain(catalog::UPSCALERS.iter().map(|(n, _)| n))
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                "Latent"
            }),
        };
        let second_pass_steps = p.int("hr_second_pass_steps", hr_steps, 0, 0, limits.max_steps as i64) as usize;
        let denoising_strength = p.float("denoising_strength", req.common.denoising_strength, 0.75, 0.0, 1.0);
        let same = |s: &Option<String>, same: &str| {
            nonempty(s)
                .filter(|v| !v.eq_ignore_ascii_case(same))
                .map(str::to_string)
        };
        let hr_sampler_name = same(&req.hr_sampler_name, "Use same sampler");
        let hr_scheduler = same(&req.hr_scheduler, "Use same scheduler");
        let sampler = if hr_sampler_name.is_some() || hr_scheduler.is_some() {
            let name = hr_sampler_name.clone().unwrap_or_else(|| job.sampler.sampler.clone());
            let sched = hr_scheduler.clone().or_else(|| Some(job.sampler.scheduler.clone()));
            match resolve_sampler(Some(&name), sched.as_deref()) {
                Ok(s) => Some(s),
                Err(e) => {
                    sampler_problem(&mut p, e, "hr_sampler_name", "hr_scheduler");
                    None
                }
            }
        } else {
            None
        };
        if let Some(ck) = same(&req.hr_checkpoint_name, "Use same checkpoint")
            && ctx.registry.find(&ck).is_none_or(|e| e.name() != model.name())
        {
            p.add(
                "hr_checkpoint_name",
                format!("{ck:?}: the hires pass must use the job's model ({})", model.title()),
            );
        }
        job.mode = Mode::Txt2Img {
            hires: Some(HiresFix {
                width: tw.max(0) as usize,
                height: th.max(0) as usize,
                upscaler: upscaler.to_string(),
                second_pass_steps,
                denoising_strength,
                sampler,
                prompt: nonempty(&req.hr_prompt).map(|_| req.hr_prompt.clone().unwrap_or_default()),
                negative_prompt: nonempty(&req.hr_negative_prompt)
                    .map(|_| req.hr_negative_prompt.clone().unwrap_or_default()),
            }),
        };
    }
    p.finish()?;
    Ok(Validated {
        job,
        model_title: model.title(),
    })
}

pub fn img2img(req: &Img2ImgRequest, ctx: &ValidationContext<'_>) -> Result<Validated, ApiError> {
    let mut p = Problems::default();
    let mut req = req.clone();
    let mut extra = Map::new();
    apply_infotext(&mut req.common, &mut extra, &mut p);
    let Common { model, mut job } = common(&req.common, ctx, &mut p, true)?;
    let resize_mode = p.int("resize_mode", req.resize_mode, 0, 0, 3) as u8;
    let denoising_strength = p.float("denoising_strength", req.common.denoising_strength, 0.75, 0.0, 1.0);
    let initial_noise_multiplier = p.opt_float("initial_noise_multiplier", req.initial_noise_multiplier, 0.0, 10.0);
    let (blur_x, blur_y) = match req.mask_blur {
        Some(b) => (Some(b), Some(b)),
        None => (req.mask_blur_x, req.mask_blur_y),
    };
    let mask_blur_x = p.int("mask_blur_x", blur_x, 4, 0, 256) as usize;
    let mask_blur_y = p.int("mask_blur_y", blur_y, 4, 0, 256) as usize;
    let inpainting_fill = p.int("inpainting_fill", req.inpainting_fill, 0, 0, 3) as u8;
    let padding = p.int("inpaint_full_res_padding", req.inpaint_full_res_padding, 0, 0, 1024) as usize;
    let mask_invert = p.int("inpainting_mask_invert", req.inpainting_mask_invert, 0, 0, 1) == 1;
    let sources = req.init_images.clone().unwrap_or_default();
    if sources.is_empty() {
        p.add("init_images", "at least one init image is required");
    } else if sources.len() > job.batch_size {
        p.add(
            "init_images",
            format!("at most batch_size ({}) images (got {})", job.batch_size, sources.len()),
        );
    }
    // Decode only a request that is otherwise valid: decoding is the expensive part.
    p.finish()?;
    let limits = &ctx.limits.image;
    let mut init_images = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        match decode_init_image(s, limits) {
            Ok(img) => init_images.push(img),
            Err(e) => p.add(&format!("init_images[{i}]"), e.to_string()),
        }
    }
    let inpainting = match nonempty(&req.mask) {
        None => None,
        Some(m) => match decode_mask(m, limits) {
            Ok(mask) => Some(Inpainting {
                mask,
                mask_blur_x,
                mask_blur_y,
                inpainting_fill,
                inpaint_full_res: req.inpaint_full_res.unwrap_or(true),
                inpaint_full_res_padding: padding,
                mask_invert,
            }),
            Err(e) => {
                p.add("mask", e.to_string());
                None
            }
        },
    };
    p.finish()?;
    job.mode = Mode::Img2Img {
        init_images,
        resize_mode,
        denoising_strength,
        initial_noise_multiplier,
        inpainting,
    };
    Ok(Validated {
        job,
        model_title: model.title(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hires_target_follows_the_webui() {
        assert_eq!(hires_target(512, 768, 2.0, 0, 0), (1024, 1536));
        assert_eq!(hires_target(512, 768, 2.0, 1024, 0), (1024, 1536));
        assert_eq!(hires_target(512, 768, 2.0, 0, 1536), (1024, 1536));
        assert_eq!(hires_target(512, 512, 2.0, 1024, 768), (1024, 1024));
    }
}
