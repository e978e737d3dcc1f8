//! Decoding client images safely: base64 (with or without a `data:` prefix), PNG/JPEG/WebP only,
//! limits checked from the header before the pixels are allocated, EXIF orientation applied (the
//! WebUI's `images.read` calls `ImageOps.exif_transpose`), and the WebUI's alpha rules.

use std::io::Cursor;

use base64::Engine as _;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, RgbImage};

use super::{ImageError, Limits, pngmeta};

/// The formats sdgate accepts from clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    WebP,
}

impl Format {
    fn to_image_format(self) -> image::ImageFormat {
        match self {
            Format::Png => image::ImageFormat::Png,
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::WebP => image::ImageFormat::WebP,
        }
    }
}

/// Recognises the format from the first bytes.
#[must_use]
pub fn sniff_format(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(Format::Jpeg)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else {
        None
    }
}

fn describe_unknown(bytes: &[u8]) -> String {
    let known: [(&[u8], &str); 4] = [(b"GIF8", "GIF"), (b"BM", "BMP"), (b"II*\0", "TIFF"), (b"MM\0*", "TIFF")];
    known
        .iter()
        .find(|(m, _)| bytes.starts_with(m))
        .map(|(_, n)| format!(" ({n})"))
        .unwrap_or_default()
}

/// Decodes the base64 text a client sent for an image: surrounding whitespace is ignored, a
/// `data:<type>;base64,` prefix is stripped (as the WebUI's `decode_base64_to_image` does for
/// `data:image/...`), line breaks inside are tolerated, padding is optional. `http(s)://` URLs are
/// refused (the WebUI may fetch them; sdgate never does). The size limit is checked on the text
/// length before decoding.
pub fn decode_base64(text: &str, limits: &Limits) -> Result<Vec<u8>, ImageError> {
    let t = text.trim();
    let lower: String = t.chars().take(8).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(ImageError::UrlRefused);
    }
    let payload = if t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        let comma = t
            .find(',')
            .ok_or_else(|| ImageError::DataUrl("no ',' after the media type".into()))?;
        let meta = &t[5..comma];
        if !meta.split(';').any(|p| p.trim().eq_ignore_ascii_case("base64")) {
            return Err(ImageError::DataUrl("only base64 data URLs are accepted".into()));
        }
        &t[comma + 1..]
    } else {
        t
    };
    let approx = payload.len() / 4 * 3;
    if approx > limits.max_encoded_bytes.saturating_add(3) {
        return Err(ImageError::EncodedTooLarge {
            size: approx,
            limit: limits.max_encoded_bytes,
        });
    }
    let compact: Vec<u8> = payload.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(ImageError::Empty);
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = engine.decode(&compact).map_err(|e| ImageError::Base64(e.to_string()))?;
    if bytes.len() > limits.max_encoded_bytes {
        return Err(ImageError::EncodedTooLarge {
            size: bytes.len(),
            limit: limits.max_encoded_bytes,
        });
    }
    Ok(bytes)
}

/// Standard base64 (with padding) of bytes, as the API returns images.
#[must_use]
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Header facts, read without decoding the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The container format.
    pub format: Format,
    /// Width as stored (before EXIF orientation).
    pub width: u32,
    /// Height as stored (before EXIF orientation).
    pub height: u32,
}

fn map_decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(l) => ImageError::Corrupt(format!("decoder limit exceeded: {l}")),
        image::ImageError::Unsupported(u) => ImageError::UnsupportedFormat(format!(" ({u})")),
        other => ImageError::Corrupt(other.to_string()),
    }
}

fn reader<'a>(bytes: &'a [u8], format: Format, limits: &Limits) -> ImageReader<Cursor<&'a [u8]>> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format.to_image_format());
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_alloc());
    r.limits(l);
    r
}

/// Reads the format and dimensions from the header and checks them against the limits.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<ImageInfo, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limits.max_encoded_bytes {
        return Err(ImageError::EncodedTooLarge {
            size: bytes.len(),
            limit: limits.max_encoded_bytes,
        });
    }
    let format = sniff_format(bytes).ok_or_else(|| ImageError::UnsupportedFormat(describe_unknown(bytes)))?;
    let (width, height) = match format {
        // Read IHDR ourselves: no decoder state at all before the limit check.
        Format::Png => png_dimensions(bytes)?,
        _ => {
            // Unlimited dimensions here so that an oversized image gets our clear message; the
            // decoder allocates nothing proportional to the pixels while reading the header.
            let mut r = ImageReader::with_format(Cursor::new(bytes), format.to_image_format());
            let mut l = image::Limits::default();
            l.max_alloc = Some(limits.max_alloc());
            r.limits(l);
            r.into_dimensions().map_err(map_decode_error)?
        }
    };
    limits.check_dimensions(width, height)?;
    Ok(ImageInfo { format, width, height })
}

fn png_dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let d = bytes
        .get(8..24)
        .ok_or_else(|| ImageError::Corrupt("PNG header truncated".into()))?;
    if &d[4..8] != b"IHDR" {
        return Err(ImageError::Corrupt("PNG does not start with IHDR".into()));
    }
    let w = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    let h = u32::from_be_bytes([d[12], d[13], d[14], d[15]]);
    Ok((w, h))
}

/// A decoded client image with what the WebUI's rules need to know about its alpha.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    /// The pixels, EXIF orientation applied.
    pub image: DynamicImage,
    /// The container format.
    pub format: Format,
    /// Whether the WebUI would see an RGBA image (and so honour the alpha): PNG colour type 6, a
    /// PNG palette with a non-simple tRNS, or a WebP with alpha. Grey+alpha, RGB+tRNS and simple
    /// palette transparency are dropped by the WebUI's `convert('RGB')`/`convert('L')`.
    pub alpha_honoured: bool,
}

/// Decodes image bytes: format sniffed, limits checked from the header first, then decoded with
/// the decoder's own allocation limit as a second fence, then EXIF orientation applied.
pub fn decode_bytes(bytes: &[u8], limits: &Limits) -> Result<DecodedImage, ImageError> {
    let info = probe(bytes, limits)?;
    let alpha_from_container = match info.format {
        Format::Png => pngmeta::header(bytes)?.alpha_is_honoured(),
        Format::WebP => true,
        Format::Jpeg => false,
    };
    let mut decoder = reader(bytes, info.format, limits)
        .into_decoder()
        .map_err(map_decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_decode_error)?;
    image.apply_orientation(orientation);
    let alpha_honoured = alpha_from_container && image.color().has_alpha();
    Ok(DecodedImage {
        image,
        format: info.format,
        alpha_honoured,
    })
}

/// Decodes a base64 client image (see [`decode_base64`] and [`decode_bytes`]).
pub fn decode_image(text: &str, limits: &Limits) -> Result<DecodedImage, ImageError> {
    decode_bytes(&decode_base64(text, limits)?, limits)
}

/// Pillow's blend with an 8-bit mask: `DIV255(a * (255 - m) + b * m)`.
#[inline]
pub(crate) fn blend255(a: u8, b: u8, m: u8) -> u8 {
    let v = u32::from(a) * (255 - u32::from(m)) + u32::from(b) * u32::from(m) + 128;
    (((v >> 8) + v) >> 8) as u8
}

/// Pillow's RGB → L: `(r*19595 + g*38470 + b*7471 + 0x8000) >> 16`.
#[inline]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

impl DecodedImage {
    /// The init image as the WebUI feeds it to img2img: `images.flatten(img, "#ffffff")`, i.e. an
    /// honoured alpha composited over white, any other alpha dropped, grey expanded to RGB.
    #[must_use]
    pub fn to_rgb_flattened(&self) -> RgbImage {
        self.to_rgb_over([255, 255, 255])
    }

    /// Like [`Self::to_rgb_flattened`] with another background colour.
    #[must_use]
    pub fn to_rgb_over(&self, bg: [u8; 3]) -> RgbImage {
        if self.alpha_honoured {
            let rgba = self.image.to_rgba8();
            let (w, h) = rgba.dimensions();
            let mut out = RgbImage::new(w, h);
            for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
                let a = p.0[3];
                for ((oc, &b), &c) in o.0.iter_mut().zip(&bg).zip(&p.0[..3]) {
                    *oc = blend255(b, c, a);
                }
            }
            out
        } else {
            to_rgb_dropping_alpha(&self.image)
        }
    }

    /// The mask as the WebUI reads it (`create_binary_mask(image, round=True)`): an honoured alpha
    /// that is not fully opaque becomes the mask (255 where alpha > 128, else 0); otherwise the
    /// image's luma (Pillow's `convert('L')`).
    #[must_use]
    pub fn to_mask(&self) -> GrayImage {
        if self.alpha_honoured {
            let rgba = self.image.to_rgba8();
            if rgba.pixels().any(|p| p.0[3] != 255) {
                let (w, h) = rgba.dimensions();
                let data = rgba.pixels().map(|p| if p.0[3] > 128 { 255 } else { 0 }).collect();
                return GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h));
            }
        }
        to_luma(&self.image)
    }
}

fn to_rgb_dropping_alpha(img: &DynamicImage) -> RgbImage {
    match img {
        DynamicImage::ImageRgb8(i) => i.clone(),
        // Pillow reads 16-bit samples by their most significant byte.
        DynamicImage::ImageRgb16(i) => {
            let (w, h) = i.dimensions();
            let data = i.as_raw().iter().map(|&v| (v >> 8) as u8).collect();
            RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
        }
        DynamicImage::ImageRgba16(i) => {
            let (w, h) = i.dimensions();
            let data = i
                .pixels()
                .flat_map(|p| [(p.0[0] >> 8) as u8, (p.0[1] >> 8) as u8, (p.0[2] >> 8) as u8])
                .collect();
            RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
        }
        other => other.to_rgb8(),
    }
}

fn to_luma(img: &DynamicImage) -> GrayImage {
    match img {
        DynamicImage::ImageLuma8(i) => i.clone(),
        DynamicImage::ImageLumaA8(i) => {
            let (w, h) = i.dimensions();
            GrayImage::from_raw(w, h, i.pixels().map(|p| p.0[0]).collect()).unwrap_or_else(|| GrayImage::new(w, h))
        }
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_) => img.to_luma8(),
        other => {
            let rgb = to_rgb_dropping_alpha(other);
            let (w, h) = rgb.dimensions();
            let data = rgb.pixels().map(|p| luma(p.0[0], p.0[1], p.0[2])).collect();
            GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
        }
    }
}

/// Decodes an img2img init image from base64 and flattens it as the WebUI does.
pub fn decode_init_image(text: &str, limits: &Limits) -> Result<RgbImage, ImageError> {
    Ok(decode_image(text, limits)?.to_rgb_flattened())
}

/// Decodes an inpainting mask from base64 as the WebUI does (see [`DecodedImage::to_mask`]).
pub fn decode_mask(text: &str, limits: &Limits) -> Result<GrayImage, ImageError> {
    Ok(decode_image(text, limits)?.to_mask())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn base64_variants() {
        let l = Limits::default();
        assert_eq!(decode_base64("aGVsbG8=", &l).expect("plain"), b"hello");
        assert_eq!(decode_base64("aGVsbG8", &l).expect("no padding"), b"hello");
        assert_eq!(
            decode_base64(" data:image/png;base64,aGVs\nbG8= ", &l).expect("data url"),
            b"hello"
        );
        assert!(matches!(
            decode_base64("data:image/png,abc", &l),
            Err(ImageError::DataUrl(_))
        ));
        assert!(matches!(
            decode_base64("https://example.com/a.png", &l),
            Err(ImageError::UrlRefused)
        ));
        assert!(matches!(decode_base64("HTTP://x", &l), Err(ImageError::UrlRefused)));
        assert!(matches!(decode_base64("!!!!", &l), Err(ImageError::Base64(_))));
        assert!(matches!(decode_base64("", &l), Err(ImageError::Empty)));
        let small = Limits {
            max_encoded_bytes: 4,
            ..Limits::default()
        };
        assert!(matches!(
            decode_base64("aGVsbG8gd29ybGQ=", &small),
            Err(ImageError::EncodedTooLarge { .. })
        ));
    }

    #[test]
    fn png_bomb_is_refused_from_the_header() {
        // A valid-looking header announcing 20000x20000 followed by nothing.
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&20000u32.to_be_bytes());
        b.extend_from_slice(&20000u32.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let e = decode_bytes(&b, &Limits::default()).expect_err("must refuse");
        assert!(
            matches!(
                e,
                ImageError::DimensionsTooLarge {
                    width: 20000,
                    height: 20000,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn truncated_and_garbage() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 7])));
        let png = png_of(&img);
        let l = Limits::default();
        assert!(decode_bytes(&png, &l).is_ok());
        for cut in [10, 30, png.len() / 2, png.len() - 13] {
            let e = decode_bytes(&png[..cut], &l).expect_err("truncated");
            assert!(matches!(e, ImageError::Corrupt(_)), "cut {cut}: {e}");
        }
        assert!(matches!(
            decode_bytes(b"GIF89a....", &l),
            Err(ImageError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            decode_bytes(&[0xff, 0xd8, 0xff, 0, 1, 2], &l),
            Err(ImageError::Corrupt(_))
        ));
        assert!(matches!(
            decode_bytes(b"RIFF\0\0\0\0WEBPVP8 ", &l),
            Err(ImageError::Corrupt(_))
        ));
    }

    #[test]
    fn alpha_rules() {
        let l = Limits::default();
        let rgba = image::RgbaImage::from_fn(4, 1, |x, _| image::Rgba([200, 100, 0, [0, 100, 129, 255][x as usize]]));
        let d = decode_bytes(&png_of(&DynamicImage::ImageRgba8(rgba)), &l).expect("decode");
        assert!(d.alpha_honoured);
        let flat = d.to_rgb_flattened();
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(3, 0).0, [200, 100, 0]);
        assert_eq!(
            flat.get_pixel(1, 0).0,
            [blend255(255, 200, 100), blend255(255, 100, 100), blend255(255, 0, 100)]
        );
        let m = d.to_mask();
        assert_eq!(m.as_raw(), &vec![0, 0, 255, 255]);
        // Grey+alpha: the WebUI drops the alpha.
        let la = image::GrayAlphaImage::from_fn(2, 1, |x, _| image::LumaA([50 + x as u8, 0]));
        let d = decode_bytes(&png_of(&DynamicImage::ImageLumaA8(la)), &l).expect("decode");
        assert!(!d.alpha_honoured);
        assert_eq!(d.to_rgb_flattened().get_pixel(1, 0).0, [51, 51, 51]);
        assert_eq!(d.to_mask().as_raw(), &vec![50, 51]);
    }

    #[test]
    fn luma_matches_pillow_formula() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(0, 0, 255), 29);
    }
}
