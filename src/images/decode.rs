//! STUB until images lands: base64 image decoding with limits, with the signatures the API layer
//! compiles against. The images helper replaces this file.

use base64::Engine;

use crate::pipeline::job::{GrayImage, RgbImage};

/// Limits on client images, checked before anything proportional to the image is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_encoded_bytes: usize,
    pub max_side: u32,
    pub max_pixels: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image is not valid base64: {0}")]
    Base64(String),
    #[error("encoded image is {size} bytes; the limit is {limit} bytes")]
    EncodedTooLarge { size: usize, limit: usize },
    #[error("image is {width}x{height}; the limits are {max_side} pixels per side and {max_pixels} pixels in total")]
    DimensionsTooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("image data is corrupt or not PNG/JPEG/WebP: {0}")]
    Corrupt(String),
}

impl ImageError {
    /// True when the client sent something wrong (422), false for a server fault.
    pub fn is_client_error(&self) -> bool {
        true
    }
}

/// The raw bytes of a base64 image (with or without a `data:` prefix).
pub fn decode_base64_bytes(s: &str, limits: &ImageLimits) -> Result<Vec<u8>, ImageError> {
    let s = s.trim();
    let payload = match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or(rest, |(_, p)| p),
        None => s,
    };
    if payload.len() / 4 * 3 > limits.max_encoded_bytes {
        return Err(ImageError::EncodedTooLarge {
            size: payload.len() / 4 * 3,
            limit: limits.max_encoded_bytes,
        });
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.as_bytes())
        .map_err(|e| ImageError::Base64(e.to_string()))
}

fn decode(s: &str, limits: &ImageLimits) -> Result<image::DynamicImage, ImageError> {
    let bytes = decode_base64_bytes(s, limits)?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    if w > limits.max_side || h > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(ImageError::DimensionsTooLarge {
            width: w,
            height: h,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    image::load_from_memory(&bytes).map_err(|e| ImageError::Corrupt(e.to_string()))
}

pub fn decode_base64_image(s: &str, limits: &ImageLimits) -> Result<RgbImage, ImageError> {
    let img = decode(s, limits)?.to_rgb8();
    Ok(RgbImage {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.into_raw(),
    })
}

pub fn decode_base64_mask(s: &str, limits: &ImageLimits) -> Result<GrayImage, ImageError> {
    let img = decode(s, limits)?.to_luma8();
    Ok(GrayImage {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.into_raw(),
    })
}
