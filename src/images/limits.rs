//! Limits on client images, checked before anything proportional to the image is allocated.

/// Limits applied to every client image (init images, masks, png-info uploads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded file accepted (after base64 decoding), in bytes.
    pub max_encoded_bytes: usize,
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Largest width × height accepted.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 32 MiB encoded, 8192 pixels per side, 32 Mpx in total (e.g. 8192×4096; 128 MiB as RGBA).
    fn default() -> Self {
        Limits {
            max_encoded_bytes: 32 << 20,
            max_side: 8192,
            max_pixels: 32 << 20,
        }
    }
}

impl Limits {
    /// Checks announced dimensions against the limits.
    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<(), super::ImageError> {
        if width == 0 || height == 0 {
            return Err(super::ImageError::Empty);
        }
        if width > self.max_side || height > self.max_side || u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(super::ImageError::DimensionsTooLarge {
                width,
                height,
                max_side: self.max_side,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }

    /// Bytes the decoder may allocate: the decoded image at 16 bits per channel with alpha, plus slack.
    #[must_use]
    pub fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8).saturating_add(16 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_accept_common_sizes() {
        let l = Limits::default();
        assert!(l.check_dimensions(512, 512).is_ok());
        assert!(l.check_dimensions(8192, 4096).is_ok());
        assert!(l.check_dimensions(8193, 16).is_err());
        assert!(l.check_dimensions(8192, 8192).is_err());
        assert!(l.check_dimensions(0, 5).is_err());
    }
}
