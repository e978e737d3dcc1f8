//! PNG output: RGB8 with text chunks written the way Pillow's `PngInfo.add_text` writes them
//! (tEXt when the text is Latin-1, else iTXt, in the order given, before the image data).
//! Deterministic: the same input gives the same bytes.

use image::RgbImage;

use super::ImageError;

/// How hard to compress. `Balanced` (the default) is zlib-like; `Fast` uses fdeflate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PngCompression {
    /// fdeflate: several times faster, somewhat larger files.
    Fast,
    /// Balanced speed and size.
    #[default]
    Balanced,
    /// Smaller files, slower.
    High,
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| (c as u32) < 256)
}

fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

/// The chunk type and data Pillow writes for `add_text(key, value)` (no compression).
pub(crate) fn text_chunk(keyword: &str, text: &str) -> Result<([u8; 4], Vec<u8>), ImageError> {
    if keyword.is_empty() || keyword.chars().count() > 79 || !is_latin1(keyword) || keyword.contains('\0') {
        return Err(ImageError::Encode(format!("invalid PNG text keyword {keyword:?}")));
    }
    let mut data = latin1_bytes(keyword);
    data.push(0);
    if is_latin1(text) {
        data.extend(latin1_bytes(text));
        Ok((*b"tEXt", data))
    } else {
        // compression flag 0, method 0, empty language tag, empty translated keyword
        data.extend_from_slice(&[0, 0, 0, 0]);
        data.extend_from_slice(text.as_bytes());
        Ok((*b"iTXt", data))
    }
}

/// Encodes an RGB8 image as PNG with the given text chunks (keyword, text) in order.
pub fn encode_png(img: &RgbImage, texts: &[(&str, &str)], compression: PngCompression) -> Result<Vec<u8>, ImageError> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(ImageError::Empty);
    }
    let chunks = texts
        .iter()
        .map(|(k, t)| text_chunk(k, t))
        .collect::<Result<Vec<_>, _>>()?;
    let err = |e: png::EncodingError| ImageError::Encode(e.to_string());
    let mut out = Vec::with_capacity((w * h) as usize / 2 + 1024);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(match compression {
            PngCompression::Fast => png::Compression::Fast,
            PngCompression::Balanced => png::Compression::Balanced,
            PngCompression::High => png::Compression::High,
        });
        let mut writer = enc.write_header().map_err(err)?;
        for (ty, data) in &chunks {
            writer.write_chunk(png::chunk::ChunkType(*ty), data).map_err(err)?;
        }
        writer.write_image_data(img.as_raw()).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

/// Encodes an image with the infotext in a "parameters" chunk (none when `infotext` is `None`), as
/// the WebUI's API returns images.
pub fn encode_png_with_infotext(img: &RgbImage, infotext: Option<&str>) -> Result<Vec<u8>, ImageError> {
    match infotext {
        Some(t) => encode_png(img, &[("parameters", t)], PngCompression::default()),
        None => encode_png(img, &[], PngCompression::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{Limits, decode_bytes, read_text_chunks};

    #[test]
    fn round_trip_text_and_pixels() {
        let img = RgbImage::from_fn(33, 17, |x, y| image::Rgb([x as u8 * 7, y as u8 * 13, 99]));
        let texts = [
            ("parameters", "a cat\nSteps: 20, Sampler: Euler"),
            ("Comment", "ünï"),
            ("other", "猫 🐱"),
        ];
        let png = encode_png(&img, &texts, PngCompression::Balanced).expect("encode");
        let back = read_text_chunks(&png).expect("text");
        let got: Vec<(&str, &str)> = back.iter().map(|t| (t.keyword.as_str(), t.text.as_str())).collect();
        assert_eq!(got, texts);
        let decoded = decode_bytes(&png, &Limits::default())
            .expect("decode")
            .to_rgb_flattened();
        assert_eq!(decoded.as_raw(), img.as_raw());
        // Deterministic.
        assert_eq!(png, encode_png(&img, &texts, PngCompression::Balanced).expect("encode"));
        let fast = encode_png(&img, &texts, PngCompression::Fast).expect("fast");
        assert_eq!(
            decode_bytes(&fast, &Limits::default())
                .expect("decode")
                .to_rgb_flattened()
                .as_raw(),
            img.as_raw()
        );
    }

    #[test]
    fn bad_keywords() {
        let img = RgbImage::new(1, 1);
        assert!(encode_png(&img, &[("", "x")], PngCompression::Fast).is_err());
        assert!(encode_png(&img, &[("猫", "x")], PngCompression::Fast).is_err());
        assert!(encode_png(&RgbImage::new(0, 0), &[], PngCompression::Fast).is_err());
    }
}
