//! img2img input preparation as the WebUI's `StableDiffusionProcessingImg2Img.init` does it
//! (mask → binary → invert → blur → "inpaint only masked" crop → fit → fill → overlays), the latent
//! mask the sampler blends with, and the paste-back of results (`apply_overlay`).

use image::{GrayImage, RgbImage, RgbaImage};

use super::ImageError;
use super::blur::blur_mask;
use super::composite::alpha_composite;
use super::fit::{ResizeMode, fit, paste};
use super::infotext::InfoValue;
use super::mask::{Region, crop, expand_crop_region, fill, get_crop_region, invert, overlay};
use super::resample::{Filter, resize};

/// The API's `inpainting_fill`: what the masked area starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InpaintingFill {
    /// 0: the masked area filled with blurred surrounding colours (`masking.fill`).
    Fill,
    /// 1: the original pixels.
    Original,
    /// 2: latent noise (the pipeline replaces masked latents with noise).
    LatentNoise,
    /// 3: latent nothing (the pipeline zeroes masked latents).
    LatentNothing,
}

impl InpaintingFill {
    /// From the API integer.
    pub fn from_api(v: i64) -> Result<Self, ImageError> {
        match v {
            0 => Ok(InpaintingFill::Fill),
            1 => Ok(InpaintingFill::Original),
            2 => Ok(InpaintingFill::LatentNoise),
            3 => Ok(InpaintingFill::LatentNothing),
            other => Err(ImageError::Mask(format!(
                "inpainting_fill must be 0, 1, 2 or 3, not {other}"
            ))),
        }
    }

    fn infotext(self) -> Option<&'static str> {
        match self {
            InpaintingFill::Fill => Some("fill"),
            InpaintingFill::Original => None,
            InpaintingFill::LatentNoise => Some("latent noise"),
            InpaintingFill::LatentNothing => Some("latent nothing"),
        }
    }
}

/// The mask options of an img2img request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskOptions {
    /// `mask_blur_x` (σ of the horizontal Gaussian; 0 = none). The API's `mask_blur` sets both.
    pub blur_x: u32,
    /// `mask_blur_y`.
    pub blur_y: u32,
    /// `inpainting_mask_invert`: inpaint what is not masked.
    pub invert: bool,
    /// `inpainting_fill`.
    pub fill: InpaintingFill,
    /// `inpaint_full_res`: "Only masked" — generate a crop around the mask at full size.
    pub full_res: bool,
    /// `inpaint_full_res_padding`.
    pub full_res_padding: u32,
}

impl Default for MaskOptions {
    /// The API defaults: blur 4, fill, only masked, padding 0 (the WebUI's API model defaults).
    fn default() -> Self {
        MaskOptions {
            blur_x: 4,
            blur_y: 4,
            invert: false,
            fill: InpaintingFill::Fill,
            full_res: true,
            full_res_padding: 0,
        }
    }
}

/// Where a generated crop goes back: (x, y, w, h) in the original image.
pub type PasteTo = (u32, u32, u32, u32);

/// The processed mask and what the paste-back needs.
#[derive(Debug, Clone)]
pub struct PreparedMask {
    /// The processed mask at the generation size (`p.image_mask`): the latent mask and the
    /// inpainting conditioning are made from it.
    pub image_mask: GrayImage,
    /// The blurred mask at the overlay's size (`p.mask_for_overlay`).
    pub mask_for_overlay: GrayImage,
    /// One overlay per init image: the original with alpha = 255 − mask (`p.overlay_images`).
    pub overlays: Vec<RgbaImage>,
    /// Set for "inpaint only masked": where results are pasted back (`p.paste_to`).
    pub paste_to: Option<PasteTo>,
    /// The fill mode (2 and 3 act on latents in the pipeline).
    pub fill: InpaintingFill,
}

/// The prepared img2img inputs.
#[derive(Debug, Clone)]
pub struct Img2ImgInputs {
    /// What the VAE encodes, one per init image: `width × height` (after fill), or the original
    /// size for resize mode 3 without a mask crop (the pipeline then resizes the latent bilinearly).
    pub images: Vec<RgbImage>,
    /// The mask, when there is one (a blank mask with "only masked" falls back to plain img2img).
    pub mask: Option<PreparedMask>,
    /// Infotext parameters in the WebUI's order (Mask mode, Mask blur, Inpaint area, Masked area
    /// padding, Masked content), to append after "Denoising strength".
    pub extra_params: Vec<(String, InfoValue)>,
    /// Comments the WebUI would show (e.g. the blank-mask fallback).
    pub comments: Vec<String>,
}

/// Prepares init images (already flattened RGB) and an optional mask (already read as L) for
/// img2img at `width × height`, as the WebUI does.
///
/// A mask whose size differs from the first init image is fitted to it first with "just resize"
/// when inpainting only the masked area (the WebUI would crop the image with a region measured on
/// the mask: inconsistent); otherwise it is fitted to the target size with the request's resize
/// mode, as the WebUI does. Resize mode 3 with a mask on the whole picture needs an init image of
/// the target size (the WebUI fails there).
pub fn prepare_img2img(
    init_images: &[RgbImage],
    mask: Option<&GrayImage>,
    resize_mode: ResizeMode,
    width: u32,
    height: u32,
    opts: &MaskOptions,
) -> Result<Img2ImgInputs, ImageError> {
    if init_images.is_empty() {
        return Err(ImageError::Empty);
    }
    if width == 0 || height == 0 {
        return Err(ImageError::InvalidSize { width, height });
    }
    let mut extra: Vec<(String, InfoValue)> = Vec::new();
    let mut comments = Vec::new();
    let first_dims = init_images[0].dimensions();

    // Mask processing (p.init, before the image loop).
    let mut crop_region: Option<Region> = None;
    let mut processed: Option<(GrayImage, GrayImage, Option<PasteTo>)> = None;
    if let Some(mask) = mask {
        let mut m = mask.clone();
        if opts.invert {
            m = invert(&m);
            extra.push(("Mask mode".into(), "Inpaint not masked".into()));
        }
        m = blur_mask(&m, opts.blur_x, opts.blur_y);
        if (opts.blur_x > 0 || opts.blur_y > 0) && opts.blur_x == opts.blur_y {
            extra.push(("Mask blur".into(), opts.blur_x.into()));
        }
        if opts.full_res {
            if m.dimensions() != first_dims {
                m = fit(&m, ResizeMode::Just, first_dims.0, first_dims.1)?;
            }
            match get_crop_region(&m, opts.full_res_padding) {
                Some(region) => {
                    let r = expand_crop_region(region, width, height, m.width(), m.height());
                    let image_mask = fit(&crop(&m, r), ResizeMode::ResizeAndFill, width, height)?;
                    crop_region = Some(r);
                    extra.push(("Inpaint area".into(), "Only masked".into()));
                    extra.push(("Masked area padding".into(), opts.full_res_padding.into()));
                    processed = Some((image_mask, m, Some((r.0, r.1, r.2 - r.0, r.3 - r.1))));
                }
                None => comments.push(
                    "Unable to perform \"Inpaint Only mask\" because mask is blank, switch to img2img mode.".into(),
                ),
            }
        } else {
            let image_mask = fit(&m, resize_mode, width, height)?;
            let mut for_overlay = image_mask.clone();
            for_overlay.iter_mut().for_each(|v| *v = v.saturating_mul(2));
            processed = Some((image_mask, for_overlay, None));
        }
    }

    let mut images = Vec::with_capacity(init_images.len());
    let mut overlays = Vec::new();
    for img in init_images {
        let mut image = if crop_region.is_none() && resize_mode != ResizeMode::LatentUpscale {
            fit(img, resize_mode, width, height)?
        } else {
            img.clone()
        };
        if let Some((image_mask, for_overlay, _)) = processed.as_mut() {
            if for_overlay.dimensions() != image.dimensions() {
                if crop_region.is_none() {
                    return Err(ImageError::Mask(format!(
                        "resize mode 3 with a mask on the whole picture needs an init image of {width}x{height}, not {}x{}",
                        image.width(),
                        image.height()
                    )));
                }
                return Err(ImageError::Mask("all init images must share the mask's size".into()));
            }
            overlays.push(overlay(&image, for_overlay));
            if let Some(r) = crop_region {
                image = fit(&crop(&image, r), ResizeMode::ResizeAndFill, width, height)?;
            }
            if opts.fill != InpaintingFill::Original {
                image = fill(&image, image_mask);
            }
        }
        images.push(image);
    }
    let mask = processed.map(|(image_mask, mask_for_overlay, paste_to)| {
        if let Some(v) = opts.fill.infotext() {
            extra.push(("Masked content".into(), v.into()));
        }
        PreparedMask {
            image_mask,
            mask_for_overlay,
            overlays,
            paste_to,
            fill: opts.fill,
        }
    });
    Ok(Img2ImgInputs {
        images,
        mask,
        extra_params: extra,
        comments,
    })
}

/// The latent mask the sampler blends with: 1 where the latent is regenerated (`p.nmask`),
/// 0 where the init latent is kept (`p.mask` = 1 − this).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentMask {
    /// Latent width.
    pub width: usize,
    /// Latent height.
    pub height: usize,
    /// Row-major values, 0.0 or 1.0.
    pub nmask: Vec<f32>,
}

impl PreparedMask {
    /// The WebUI's latent mask: the processed mask resized to latent size with Pillow's default
    /// filter (BICUBIC), divided by 255 and rounded (`np.around`, mask_round on).
    pub fn latent_mask(&self, latent_w: u32, latent_h: u32) -> Result<LatentMask, ImageError> {
        let small = resize(&self.image_mask, latent_w, latent_h, Filter::Bicubic)?;
        let nmask = small
            .as_raw()
            .iter()
            .map(|&v| (f32::from(v) / 255.0).round_ties_even())
            .collect();
        Ok(LatentMask {
            width: latent_w as usize,
            height: latent_h as usize,
            nmask,
        })
    }

    /// Pastes a generated image back as the WebUI's `apply_overlay`: for "only masked" the result
    /// is fitted into its region ("crop and resize") on a transparent canvas of the original size;
    /// then the overlay (original pixels outside the mask) is alpha-composited over it.
    pub fn apply_overlay(&self, generated: &RgbImage, index: usize) -> Result<RgbImage, ImageError> {
        let overlay = self
            .overlays
            .get(index)
            .or_else(|| self.overlays.first())
            .ok_or_else(|| ImageError::Mask("no overlay for this image".into()))?;
        let (ow, oh) = overlay.dimensions();
        let base: RgbaImage = match self.paste_to {
            Some((x, y, w, h)) => {
                let fitted = fit(generated, ResizeMode::CropAndResize, w, h)?;
                let mut canvas = RgbaImage::new(ow, oh);
                let rgba = RgbaImage::from_fn(w, h, |px, py| {
                    let p = fitted.get_pixel(px, py).0;
                    image::Rgba([p[0], p[1], p[2], 255])
                });
                paste(&mut canvas, &rgba, i64::from(x), i64::from(y));
                canvas
            }
            None => {
                if generated.dimensions() != (ow, oh) {
                    return Err(ImageError::Mask(format!(
                        "generated image is {}x{} but the overlay is {ow}x{oh}",
                        generated.width(),
                        generated.height()
                    )));
                }
                RgbaImage::from_fn(ow, oh, |px, py| {
                    let p = generated.get_pixel(px, py).0;
                    image::Rgba([p[0], p[1], p[2], 255])
                })
            }
        };
        let data = base.pixels().zip(overlay.pixels()).flat_map(|(b, o)| {
            let c = alpha_composite(b.0, o.0);
            [c[0], c[1], c[2]]
        });
        RgbImage::from_raw(ow, oh, data.collect()).ok_or_else(|| ImageError::Shape("overlay size".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]))
    }

    #[test]
    fn only_masked_round_trip() {
        let img = picture(80, 60);
        let mask = GrayImage::from_fn(80, 60, |x, y| {
            image::Luma([if (30..40).contains(&x) && (20..30).contains(&y) {
                255
            } else {
                0
            }])
        });
        let opts = MaskOptions::default();
        let p =
            prepare_img2img(std::slice::from_ref(&img), Some(&mask), ResizeMode::Just, 64, 64, &opts).expect("prepare");
        let m = p.mask.as_ref().expect("mask");
        assert!(m.paste_to.is_some());
        assert_eq!(p.images[0].dimensions(), (64, 64));
        let names: Vec<&str> = p.extra_params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["Mask blur", "Inpaint area", "Masked area padding", "Masked content"]
        );
        let lm = m.latent_mask(8, 8).expect("latent mask");
        assert_eq!(lm.nmask.len(), 64);
        // Pasting back the unchanged crop gives the original far from the mask.
        let out = m.apply_overlay(&p.images[0], 0).expect("overlay");
        assert_eq!(out.dimensions(), (80, 60));
        assert_eq!(out.get_pixel(2, 2), img.get_pixel(2, 2));
    }

    #[test]
    fn blank_mask_falls_back() {
        let img = picture(32, 32);
        let mask = GrayImage::new(32, 32);
        let p = prepare_img2img(&[img], Some(&mask), ResizeMode::Just, 32, 32, &MaskOptions::default()).expect("ok");
        assert!(p.mask.is_none());
        assert_eq!(p.comments.len(), 1);
    }

    #[test]
    fn whole_picture_mask() {
        let img = picture(40, 20);
        let mask = GrayImage::from_fn(40, 20, |x, _| image::Luma([if x > 20 { 255 } else { 0 }]));
        let opts = MaskOptions {
            full_res: false,
            fill: InpaintingFill::Original,
            ..MaskOptions::default()
        };
        let p = prepare_img2img(&[img], Some(&mask), ResizeMode::CropAndResize, 32, 32, &opts).expect("ok");
        let m = p.mask.expect("mask");
        assert_eq!(m.overlays[0].dimensions(), (32, 32));
        assert!(m.paste_to.is_none());
        assert!(m.apply_overlay(&RgbImage::new(16, 16), 0).is_err());
        assert!(prepare_img2img(&[], None, ResizeMode::Just, 8, 8, &opts).is_err());
    }
}
