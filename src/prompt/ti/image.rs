//! Embeddings inside images, as the WebUI's `textual_inversion/image_embedding.py` writes them:
//! a PNG text chunk `sd-ti-embedding` holding base64 of the embedding as JSON (tensors as
//! `{"TORCHTENSOR": nested lists}`), or, failing that (and for WebP), the same JSON zlib-compressed
//! into the low nibbles of the pixels on either side of a black band (`extract_image_data_embed`).

use std::io::{Cursor, Read};

use base64::Engine;

use super::TiError;
use super::value::{Value, from_json};

const CHUNK: &str = "sd-ti-embedding";
const MAX_JSON: u64 = 64 << 20;
const MAX_PIXELS: u64 = 1 << 26;

/// The embedding data in an image file, or None when the image holds none (a preview picture).
pub fn read_image_embedding(bytes: &[u8]) -> Result<Option<Value>, TiError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        && let Some(text) = png_text(bytes)?
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim().as_bytes())
            .map_err(|e| TiError::Format(format!("{CHUNK} is not base64: {e}")))?;
        return parse_json(&raw).map(Some);
    }
    pixel_embedding(bytes)
}

fn parse_json(raw: &[u8]) -> Result<Value, TiError> {
    let v: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| TiError::Format(format!("embedding JSON: {e}")))?;
    from_json(&v)
}

/// The `sd-ti-embedding` text of a PNG (tEXt, zTXt or iTXt, before or after the image data).
fn png_text(bytes: &[u8]) -> Result<Option<String>, TiError> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_ignore_text_chunk(false);
    let mut reader = decoder.read_info().map_err(|e| TiError::Format(format!("PNG: {e}")))?;
    let pixels = reader
        .output_buffer_size()
        .ok_or_else(|| TiError::Format("PNG too large".into()))?;
    if pixels as u64 > MAX_PIXELS * 8 {
        return Err(TiError::Format("PNG too large".into()));
    }
    if let Some(t) = find_text(reader.info()) {
        return Ok(Some(t));
    }
    // Text chunks after IDAT are seen only once the image data is read.
    let mut buf = vec![0; pixels];
    while reader.next_frame(&mut buf).is_ok() {}
    let _ = reader.finish();
    Ok(find_text(reader.info()))
}

fn find_text(info: &png::Info<'_>) -> Option<String> {
    if let Some(t) = info.uncompressed_latin1_text.iter().find(|t| t.keyword == CHUNK) {
        return Some(t.text.clone());
    }
    if let Some(t) = info.compressed_latin1_text.iter().find(|t| t.keyword == CHUNK)
        && let Ok(s) = t.get_text()
    {
        return Some(s);
    }
    info.utf8_text
        .iter()
        .find(|t| t.keyword == CHUNK)
        .and_then(|t| t.get_text().ok())
}

/// The WebUI's `lcg()` stream: `seed = (1664525·seed + 1013904223) mod 2³²`, yielding `seed mod 255`.
struct Lcg(u32);

impl Iterator for Lcg {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        Some((self.0 % 255) as u8)
    }
}

/// `extract_image_data_embed`: None when the picture carries no data band.
fn pixel_embedding(bytes: &[u8]) -> Result<Option<Value>, TiError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| TiError::Format(format!("image: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| TiError::Format(format!("image: {e}")))?
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = |x: usize, y: usize| img.get_pixel(x as u32, y as u32).0;
    // crop_black: rows/columns where some pixel has all three channels > 0.
    let lit = |x: usize, y: usize| px(x, y).iter().all(|&c| c > 0);
    let cols: Vec<bool> = (0..w).map(|x| (0..h).any(|y| lit(x, y))).collect();
    let rows: Vec<bool> = (0..h).map(|y| (0..w).any(|x| lit(x, y))).collect();
    let span = |v: &[bool]| -> (usize, usize) {
        let start = v.iter().position(|&b| b).unwrap_or(0);
        let end = v.len() - v.iter().rev().position(|&b| b).unwrap_or(0);
        (start, end)
    };
    let (x0, x1) = span(&cols);
    let (y0, y1) = span(&rows);
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let nib = |x: usize, y: usize, c: usize| px(x, y)[c] & 0x0f;
    let black: Vec<usize> = (x0..x1)
        .filter(|&x| (y0..y1).all(|y| (0..3).all(|c| nib(x, y, c) == 0)))
        .collect();
    if black.len() < 2 {
        return Ok(None);
    }
    let (bmin, bmax) = (black[0], black[black.len() - 1]);
    let block = |from: usize, to: usize| -> Vec<u8> {
        let mut v = Vec::with_capacity((to - from) * (y1 - y0) * 3);
        for y in y0..y1 {
            for x in from..to {
                for c in 0..3 {
                    v.push(nib(x, y, c));
                }
            }
        }
        v.iter().zip(Lcg(0)).map(|(&b, r)| b ^ (r & 0x0f)).collect()
    };
    let lower = block(x0, bmin);
    let upper = block(bmax + 1, x1);
    if lower.len() != upper.len() {
        return Ok(None);
    }
    let packed: Vec<u8> = upper.iter().zip(&lower).map(|(&u, &l)| (u << 4) | l).collect();
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(packed.as_slice())
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| TiError::Format(format!("embedded image data: {e}")))?;
    if json.len() as u64 > MAX_JSON {
        return Err(TiError::Format("embedded image data too large".into()));
    }
    parse_json(&json).map(Some)
}
