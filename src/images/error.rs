//! The images module's error type. Every message is written for a client (a 4xx body) unless
//! [`ImageError::is_client_error`] says otherwise.

/// What can go wrong while decoding, fitting, masking or encoding images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The text is not valid base64.
    #[error("image is not valid base64: {0}")]
    Base64(String),
    /// A `data:` URL that does not carry base64.
    #[error("image data URL is malformed: {0}")]
    DataUrl(String),
    /// The WebUI can fetch `http(s)://` images; sdgate never does (server-side request forgery).
    #[error("image URLs are not accepted; send the image itself as base64")]
    UrlRefused,
    /// The encoded image is larger than [`crate::images::Limits::max_encoded_bytes`].
    #[error("encoded image is {size} bytes; the limit is {limit} bytes")]
    EncodedTooLarge {
        /// Size (or lower bound of the size) of the encoded image.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The header announces more pixels than the limits allow.
    #[error("image is {width}x{height}; the limits are {max_side} pixels per side and {max_pixels} pixels in total")]
    DimensionsTooLarge {
        /// Announced width.
        width: u32,
        /// Announced height.
        height: u32,
        /// Largest side accepted.
        max_side: u32,
        /// Largest pixel count accepted.
        max_pixels: u64,
    },
    /// Not PNG, JPEG or WebP.
    #[error("unsupported image format{0}; PNG, JPEG and WebP are accepted")]
    UnsupportedFormat(String),
    /// Truncated or corrupt file.
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(String),
    /// An image with zero width or height, or an empty payload.
    #[error("image is empty")]
    Empty,
    /// A requested size that cannot be produced.
    #[error("invalid target size {width}x{height}")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// A mask that cannot be used with the given image.
    #[error("mask: {0}")]
    Mask(String),
    /// A tensor that does not have the expected shape.
    #[error("tensor shape: {0}")]
    Shape(String),
    /// Encoding a PNG failed (a server-side error).
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

impl ImageError {
    /// Whether the error is the client's fault (4xx) rather than the server's (5xx).
    #[must_use]
    pub fn is_client_error(&self) -> bool {
        !matches!(self, ImageError::Encode(_) | ImageError::Shape(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(ImageError::UrlRefused.is_client_error());
        assert!(ImageError::Corrupt("x".into()).is_client_error());
        assert!(!ImageError::Encode("x".into()).is_client_error());
    }

    #[test]
    fn messages_are_readable() {
        let e = ImageError::DimensionsTooLarge {
            width: 20000,
            height: 20000,
            max_side: 8192,
            max_pixels: 1 << 25,
        };
        assert!(e.to_string().contains("20000x20000"));
    }
}
