//! Latent-space inputs of a job: img2img init latents and masks, the inpainting models' image
//! conditioning, and the hires-fix upscale. Everything that touches the VAE lives here.

use ndarray::{Array4, Axis, concatenate, s};

use super::context::ModelContext;
use super::job::{HiresFix, Mode};
use super::{GenerationJob, PipelineError};
use crate::images::{self, InfoValue, InpaintingFill, LatentResize, MaskOptions, PreparedMask, ResizeMode};
use crate::runtime::Engine;

fn image_err(e: images::ImageError) -> PipelineError {
    PipelineError::Image(e.to_string())
}

/// The latent mask of inpainting on a standard model, broadcast to the latents' shape.
pub struct LatentMasks {
    /// 1 where the init latent is kept (the WebUI's `p.mask`).
    pub mask: Array4<f32>,
    /// 1 where the latent is regenerated (`p.nmask`).
    pub nmask: Array4<f32>,
    pub fill: InpaintingFill,
}

/// What img2img computes once per job (the WebUI's `StableDiffusionProcessingImg2Img.init`).
pub struct Img2ImgState {
    /// `[batch, C, h, w]`, scaled by the VAE scaling factor.
    pub init_latent: Array4<f32>,
    pub mask: Option<LatentMasks>,
    /// For the paste-back of the results (overlays, "only masked" crops).
    pub prepared_mask: Option<PreparedMask>,
    /// 9-channel models: `[batch, 1 + C, h, w]`.
    pub image_cond: Option<Array4<f32>>,
    /// Infotext parameters of the mask (Mask blur, Inpaint area, ...).
    pub extra_params: Vec<(String, InfoValue)>,
}

/// VAE-encode images `[B, 3, H, W]` in [-1, 1] to scaled latents. sdgate takes the posterior's
/// mean; the WebUI samples it with the global torch generator (a small, unseeded difference).
pub fn encode(engine: &mut Engine, ctx: &ModelContext, pixels: Array4<f32>) -> Result<Array4<f32>, PipelineError> {
    let c = ctx.folder.manifest.latent_channels;
    let params = engine.vae_encode(pixels)?;
    if params.shape()[1] != 2 * c {
        return Err(PipelineError::Internal(format!(
            "the VAE encoder returned {} channels for {c} latent channels",
            params.shape()[1]
        )));
    }
    Ok(params.slice(s![.., ..c, .., ..]).to_owned() * ctx.folder.manifest.vae_scaling_factor)
}

/// Repeat `[1, ...]` rows up to `batch` (one init image for the whole batch).
fn repeat_to(x: Array4<f32>, batch: usize) -> Result<Array4<f32>, PipelineError> {
    if x.shape()[0] == batch {
        return Ok(x);
    }
    let views: Vec<_> = (0..batch)
        .map(|i| x.slice(s![i % x.shape()[0]..i % x.shape()[0] + 1, .., .., ..]))
        .collect();
    concatenate(Axis(0), &views).map_err(|e| PipelineError::Internal(e.to_string()))
}

pub fn img2img(engine: &mut Engine, ctx: &ModelContext, job: &GenerationJob) -> Result<Img2ImgState, PipelineError> {
    let Mode::Img2Img {
        init_images,
        resize_mode,
        inpainting,
        ..
    } = &job.mode
    else {
        return Err(PipelineError::Internal("img2img state for a txt2img job".into()));
    };
    let f = ctx.folder.manifest.vae_scale_factor;
    let (w, h) = (job.width, job.height);
    let (lw, lh) = (w / f, h / f);
    let mode = ResizeMode::from_api(i64::from(*resize_mode)).map_err(image_err)?;
    let opts = match inpainting {
        Some(i) => MaskOptions {
            blur_x: i.mask_blur_x as u32,
            blur_y: i.mask_blur_y as u32,
            invert: i.mask_invert,
            fill: InpaintingFill::from_api(i64::from(i.inpainting_fill)).map_err(image_err)?,
            full_res: i.inpaint_full_res,
            full_res_padding: i.inpaint_full_res_padding as u32,
        },
        None => MaskOptions::default(),
    };
    let mask = inpainting.as_ref().map(|i| &i.mask);
    let prepared = images::prepare_img2img(init_images, mask, mode, w as u32, h as u32, &opts).map_err(image_err)?;
    let pixels = images::images_to_tensor(&prepared.images).map_err(image_err)?;
    let mut init_latent = encode(engine, ctx, pixels)?;
    if mode == ResizeMode::LatentUpscale && (init_latent.shape()[2] != lh || init_latent.shape()[3] != lw) {
        init_latent = images::resize_latent(init_latent.view(), lh, lw, LatentResize::Bilinear).map_err(image_err)?;
    }
    let init_latent = repeat_to(init_latent, job.batch_size)?;
    let c = init_latent.shape()[1];

    let masks = match &prepared.mask {
        // The WebUI blends latents with the mask for every model, inpainting models included.
        Some(m) => {
            let lm = m.latent_mask(lw as u32, lh as u32).map_err(image_err)?;
            let plane = ndarray::Array2::from_shape_vec((lm.height, lm.width), lm.nmask)
                .map_err(|e| PipelineError::Internal(e.to_string()))?;
            let nmask = plane
                .broadcast((job.batch_size, c, lh, lw))
                .map(|v| v.to_owned())
                .ok_or_else(|| PipelineError::Internal("latent mask does not fit the latents".into()))?;
            let mask = nmask.mapv(|v| 1.0 - v);
            Some(LatentMasks {
                mask,
                nmask,
                fill: m.fill,
            })
        }
        None => None,
    };

    let image_cond = if ctx.folder.manifest.is_inpainting() {
        let image_mask = prepared.mask.as_ref().map(|m| &m.image_mask);
        let masked = images::inpainting_masked_image(&prepared.images, image_mask).map_err(image_err)?;
        let masked_latent = repeat_to(encode(engine, ctx, masked)?, job.batch_size)?;
        let cmask = images::conditioning_mask_latent(image_mask, lw, lh).map_err(image_err)?;
        let cmask = repeat_to(cmask, job.batch_size)?;
        Some(
            concatenate(Axis(1), &[cmask.view(), masked_latent.view()])
                .map_err(|e| PipelineError::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    Ok(Img2ImgState {
        init_latent,
        mask: masks,
        prepared_mask: prepared.mask,
        image_cond,
        extra_params: prepared.extra_params,
    })
}

/// txt2img on an inpainting model: a fully masked 0.5-grey image (the WebUI's
/// `txt2img_image_conditioning`).
pub fn txt2img_image_conditioning(
    engine: &mut Engine,
    ctx: &ModelContext,
    batch: usize,
    width: usize,
    height: usize,
) -> Result<Array4<f32>, PipelineError> {
    let f = ctx.folder.manifest.vae_scale_factor;
    let grey = images::txt2img_inpainting_image(1, width, height);
    let latent = repeat_to(encode(engine, ctx, grey)?, batch)?;
    let ones = Array4::<f32>::ones((batch, 1, height / f, width / f));
    concatenate(Axis(1), &[ones.view(), latent.view()]).map_err(|e| PipelineError::Internal(e.to_string()))
}

/// The hires fix's upscale of the first pass: in latent space, or decode → pixel upscaler → encode.
pub fn hires_upscale(
    engine: &mut Engine,
    ctx: &ModelContext,
    x: Array4<f32>,
    hires: &HiresFix,
) -> Result<Array4<f32>, PipelineError> {
    let m = &ctx.folder.manifest;
    let (lh, lw) = (hires.height / m.vae_scale_factor, hires.width / m.vae_scale_factor);
    if let Some(mode) = LatentResize::from_name(&hires.upscaler) {
        return images::resize_latent(x.view(), lh, lw, mode).map_err(image_err);
    }
    let decoded = engine.vae_decode(&x / m.vae_scaling_factor)?;
    let pixels = images::tensor_to_images(decoded.view()).map_err(image_err)?;
    let (w, h) = (hires.width as u32, hires.height as u32);
    let upscaled: Vec<image::RgbImage> = pixels
        .iter()
        .map(|img| match hires.upscaler.as_str() {
            "Lanczos" => images::upscale_lanczos_webui(img, w, h).map_err(image_err),
            "Nearest" => Ok(image::imageops::resize(img, w, h, image::imageops::FilterType::Nearest)),
            "None" => images::fit(img, ResizeMode::Just, w, h).map_err(image_err),
            other => Err(PipelineError::Invalid(format!("unknown hires upscaler {other:?}"))),
        })
        .collect::<Result<_, _>>()?;
    let tensor = images::images_to_tensor(&upscaled).map_err(image_err)?;
    encode(engine, ctx, tensor)
}
