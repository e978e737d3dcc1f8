//! images: decoding client images safely, fitting init images (resize modes), inpainting masks,
//! tensors ⇄ images, infotext, PNG output with metadata, and cheap latent previews.
//!
//! Everything here follows the AUTOMATIC1111 WebUI's behaviour (modules/images.py, processing.py,
//! masking.py, infotext_utils.py, sd_vae_approx.py) with goldens from Pillow, OpenCV and torch
//! under tests/fixtures/images (scripts in scripts/goldens/images_*.py).

mod decode;
mod error;
mod fit;
mod latent;
mod limits;
mod pngmeta;
mod resample;
mod tensor;

pub use decode::{
    DecodedImage, Format, ImageInfo, decode_base64, decode_bytes, decode_image, decode_init_image, decode_mask,
    encode_base64, probe, sniff_format,
};
pub use error::ImageError;
pub use fit::{ResizeMode, fit};
pub use latent::{LatentResize, resize_latent};
pub use limits::Limits;
pub use pngmeta::{TextChunk, read_text_chunks};
pub use resample::{Filter, resample_u8, resize, resize_box};
pub use tensor::{
    conditioning_mask_latent, images_to_tensor, inpainting_masked_image, tensor_to_images, txt2img_inpainting_image,
};
