//! Reading the generation parameters back from an image, as the WebUI's
//! `images.read_info_from_image` (the png-info route): the PNG "parameters" text chunk, else an
//! EXIF UserComment (JPEG APP1, WebP EXIF, PNG eXIf), else a JPEG comment; NovelAI PNGs converted.

use serde_json::Value;

use super::decode::{Format, sniff_format};
use super::pngmeta::{self, TextChunk};
use super::pyfmt::py_float;
use super::{ImageError, Limits, probe};

/// What the png-info route returns besides the parsed parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMetadata {
    /// The raw infotext, `None` when the image carries none.
    pub infotext: Option<String>,
    /// The other text items (PNG text chunks except "parameters"), in file order.
    pub items: Vec<TextChunk>,
}

/// Reads the infotext and other text items from image bytes (PNG, JPEG or WebP). The header is
/// checked against the limits; the pixels are not decoded.
pub fn read_metadata(bytes: &[u8], limits: &Limits) -> Result<ImageMetadata, ImageError> {
    let info = probe(bytes, limits)?;
    let (mut items, exif, comment) = match info.format {
        Format::Png => {
            let exif = pngmeta::chunks(bytes)?
                .into_iter()
                .find(|c| &c.ty == b"eXIf")
                .map(|c| c.data.to_vec());
            (pngmeta::read_text_chunks(bytes)?, exif, None)
        }
        Format::Jpeg => {
            let (exif, comment) = jpeg_segments(bytes);
            (Vec::new(), exif, comment)
        }
        Format::WebP => (Vec::new(), webp_exif(bytes), None),
    };
    let mut infotext = None;
    if let Some(pos) = items.iter().position(|t| t.keyword == "parameters") {
        infotext = Some(items.remove(pos).text);
    }
    if let Some(exif) = exif {
        if let Some(c) = exif_user_comment(&exif).filter(|c| !c.is_empty()) {
            infotext = Some(c);
        }
    } else if let Some(c) = comment {
        infotext = Some(decode_utf8_ignore(&c));
    }
    if items.iter().any(|t| t.keyword == "Software" && t.text == "NovelAI")
        && let Some(t) = novelai_infotext(&items, info.width, info.height)
    {
        infotext = Some(t);
    }
    Ok(ImageMetadata { infotext, items })
}

/// [`read_metadata`] for base64 text (with or without a `data:` prefix), as the png-info route gets it.
pub fn read_metadata_base64(text: &str, limits: &Limits) -> Result<ImageMetadata, ImageError> {
    read_metadata(&super::decode_base64(text, limits)?, limits)
}

fn decode_utf8_ignore(b: &[u8]) -> String {
    b.utf8_chunks().map(|c| c.valid()).collect()
}

/// JPEG APP1 "Exif" payload and COM segment, read up to the start of scan.
fn jpeg_segments(b: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut exif, mut comment) = (None, None);
    let mut pos = 2usize;
    while pos + 4 <= b.len() {
        if b[pos] != 0xff {
            break;
        }
        let marker = b[pos + 1];
        if marker == 0xff {
            pos += 1;
            continue;
        }
        if marker == 0xd9 || marker == 0xda {
            break;
        }
        if (0xd0..=0xd7).contains(&marker) || marker == 0x01 {
            pos += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]]));
        let Some(data) = b.get(pos + 4..pos + 2 + len) else {
            break;
        };
        if len < 2 {
            break;
        }
        match marker {
            0xe1 if data.starts_with(b"Exif\0\0") && exif.is_none() => exif = Some(data.to_vec()),
            0xfe => comment = Some(data.to_vec()),
            _ => {}
        }
        pos += 2 + len;
    }
    (exif, comment)
}

fn webp_exif(b: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 12usize;
    while let Some(h) = b.get(pos..pos + 8) {
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let data = b.get(pos + 8..pos.checked_add(8 + size)?)?;
        if &h[..4] == b"EXIF" {
            return Some(data.to_vec());
        }
        pos += 8 + size + (size & 1);
    }
    None
}

/// The EXIF UserComment (tag 0x9286 of the Exif IFD), decoded as the WebUI does: piexif's
/// `UserComment.load` (ASCII, UNICODE = UTF-16BE, JIS), falling back to UTF-8 with errors ignored.
fn exif_user_comment(exif: &[u8]) -> Option<String> {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let raw = tiff_user_comment(tiff)?;
    Some(decode_user_comment(&raw))
}

fn decode_user_comment(raw: &[u8]) -> String {
    if raw.len() >= 8 {
        let (prefix, body) = raw.split_at(8);
        match prefix {
            b"ASCII\0\0\0" => {
                return body
                    .iter()
                    .map(|&c| if c < 0x80 { char::from(c) } else { '\u{fffd}' })
                    .collect();
            }
            b"UNICODE\0" => {
                let units = body.chunks(2).map(|p| {
                    if p.len() == 2 {
                        u16::from_be_bytes([p[0], p[1]])
                    } else {
                        0xfffd
                    }
                });
                return char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect();
            }
            b"JIS\0\0\0\0\0" => return String::from_utf8_lossy(body).into_owned(),
            _ => {}
        }
    }
    decode_utf8_ignore(raw)
}

fn tiff_user_comment(t: &[u8]) -> Option<Vec<u8>> {
    let le = match t.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = t.get(o..o + 2)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b = t.get(o..o + 4)?;
        Some(if le {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let find = |ifd: usize, tag: u16| -> Option<(u16, u32, usize)> {
        let n = usize::from(u16_at(ifd)?);
        (0..n.min(1024)).find_map(|i| {
            let e = ifd + 2 + i * 12;
            (u16_at(e)? == tag).then_some((u16_at(e + 2)?, u32_at(e + 4)?, e + 8))
        })
    };
    let ifd0 = u32_at(4)? as usize;
    let (_, _, off) = find(ifd0, 0x8769)?;
    let exif_ifd = u32_at(off)? as usize;
    let (_ty, count, off) = find(exif_ifd, 0x9286)?;
    let count = count as usize;
    let start = if count <= 4 { off } else { u32_at(off)? as usize };
    t.get(start..start.checked_add(count)?).map(<[u8]>::to_vec)
}

/// The WebUI's NovelAI conversion ("Software" == "NovelAI").
fn novelai_infotext(items: &[TextChunk], width: u32, height: u32) -> Option<String> {
    let get = |k: &str| items.iter().find(|t| t.keyword == k).map(|t| t.text.as_str());
    let json: Value = serde_json::from_str(get("Comment")?).ok()?;
    let py = |v: &Value| -> Option<String> {
        Some(match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_f64() => py_float(n.as_f64()?),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            _ => return None,
        })
    };
    let sampler_key = json.get("sampler")?.as_str()?;
    let sampler = novelai_sampler(sampler_key);
    Some(format!(
        "{}\nNegative prompt: {}\nSteps: {}, Sampler: {sampler}, CFG scale: {}, Seed: {}, Size: {width}x{height}, Clip skip: 2, ENSD: 31337",
        get("Description")?,
        py(json.get("uc")?)?,
        py(json.get("steps")?)?,
        py(json.get("scale")?)?,
        py(json.get("seed")?)?,
    ))
}

/// The WebUI's `samplers_map` lookup for the k-diffusion aliases NovelAI writes, "Euler a" otherwise.
fn novelai_sampler(key: &str) -> &'static str {
    const MAP: [(&str, &str); 16] = [
        ("k_euler_a", "Euler a"),
        ("k_euler_ancestral", "Euler a"),
        ("k_euler", "Euler"),
        ("k_lms", "LMS"),
        ("k_heun", "Heun"),
        ("k_dpm_2", "DPM2"),
        ("k_dpm_2_a", "DPM2 a"),
        ("k_dpm_2_ancestral", "DPM2 a"),
        ("k_dpmpp_2s_a", "DPM++ 2S a"),
        ("k_dpmpp_2s_ancestral", "DPM++ 2S a"),
        ("k_dpmpp_2m", "DPM++ 2M"),
        ("k_dpmpp_sde", "DPM++ SDE"),
        ("k_dpmpp_2m_sde", "DPM++ 2M SDE"),
        ("k_dpm_fast", "DPM fast"),
        ("k_dpm_ad", "DPM adaptive"),
        ("ddim", "DDIM"),
    ];
    let k = key.to_lowercase();
    MAP.iter().find(|(a, _)| *a == k).map_or("Euler a", |(_, n)| n)
}

/// Whether bytes look like an image sdgate reads metadata from.
#[must_use]
pub fn is_supported_image(bytes: &[u8]) -> bool {
    sniff_format(bytes).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_comment_decoding() {
        let mut u = b"UNICODE\0".to_vec();
        for c in "hé 猫".encode_utf16() {
            u.extend_from_slice(&c.to_be_bytes());
        }
        assert_eq!(decode_user_comment(&u), "hé 猫");
        assert_eq!(decode_user_comment(b"ASCII\0\0\0abc"), "abc");
        assert_eq!(decode_user_comment(b"\0\0\0\0\0\0\0\0ab\xffc"), "\0\0\0\0\0\0\0\0abc");
        assert_eq!(decode_user_comment(b"ab"), "ab");
    }

    #[test]
    fn garbage_is_harmless() {
        assert!(tiff_user_comment(b"II*\0\xff\xff\xff\xff").is_none());
        assert_eq!(jpeg_segments(&[0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 1]), (None, None));
        assert!(webp_exif(b"RIFF\0\0\0\0WEBPEXIF\xff\xff\xff\xff").is_none());
        assert!(read_metadata(b"nope", &Limits::default()).is_err());
    }
}
