//! images: decoding client images safely, fitting init images (resize modes), inpainting masks,
//! tensors ⇄ images, infotext, PNG output with metadata, and cheap latent previews.
//!
//! Everything here follows the AUTOMATIC1111 WebUI's behaviour (modules/images.py, processing.py,
//! masking.py, infotext_utils.py, sd_vae_approx.py, api/api.py) with goldens from Pillow 9.5.0 (the
//! WebUI's pin), OpenCV and torch under tests/fixtures/images (scripts/goldens/images_*.py).
//!
//! The usual paths:
//! - img2img: [`decode_init_image`] / [`decode_mask`] → [`prepare_img2img`] → [`images_to_tensor`]
//!   (VAE encode) … [`PreparedMask::latent_mask`] for the sampler, [`inpainting_masked_image`] +
//!   [`conditioning_mask_latent`] for 9-channel models … VAE decode → [`tensor_to_images`] →
//!   [`PreparedMask::apply_overlay`].
//! - output: [`GenerationInfo::to_infotext`] → [`encode_png_with_infotext`] → [`encode_base64`].
//! - png-info: [`read_metadata_base64`] → [`ParsedInfotext::parse`] → [`ParsedInfotext::to_webui_dict`].
//! - hires fix: [`resize_latent`] ([`LatentResize`]) or [`upscale_lanczos_webui`].
//! - progress: [`preview_base64`].

mod blur;
mod composite;
mod decode;
mod error;
mod fit;
mod infotext;
mod infotext_parse;
mod inpaint;
mod latent;
mod limits;
mod mask;
mod metadata;
mod png;
mod pngmeta;
mod preview;
mod pyfmt;
mod resample;
mod tensor;
mod vae_approx_coefs;

pub use blur::blur_mask;
pub use decode::{
    DecodedImage, Format, ImageInfo, decode_base64, decode_bytes, decode_image, decode_init_image, decode_mask,
    encode_base64, probe, sniff_format,
};
pub use error::ImageError;
pub use fit::{ResizeMode, fit, upscale_lanczos_webui};
pub use infotext::{GenerationInfo, InfoValue, build_infotext, quote};
pub use infotext_parse::{ParsedInfotext, find_params};
pub use inpaint::{Img2ImgInputs, InpaintingFill, LatentMask, MaskOptions, PasteTo, PreparedMask, prepare_img2img};
pub use latent::{LatentResize, resize_latent};
pub use limits::Limits;
pub use mask::{Region, expand_crop_region, fill, get_crop_region, invert};
pub use metadata::{ImageMetadata, is_supported_image, read_metadata, read_metadata_base64};
pub use png::{PngCompression, encode_png, encode_png_with_infotext};
pub use pngmeta::{TextChunk, read_text_chunks};
pub use preview::{ApproxFamily, cheap_approximation, preview_base64, preview_png, upscale_nearest};
pub use pyfmt::{json_dumps_str, py_float};
pub use resample::{Filter, resample_u8, resize, resize_box};
pub use tensor::{
    conditioning_mask_latent, images_to_tensor, inpainting_masked_image, tensor_to_images, txt2img_inpainting_image,
};
