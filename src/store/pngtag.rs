//! sdgate's own PNG text chunk ("sdgate": job id, creation time and kind as JSON), put next to the
//! WebUI's "parameters" chunk so that an index rebuilt from the files alone gets the same rows.

use serde::{Deserialize, Serialize};

/// The chunk keyword.
pub const KEYWORD: &str = "sdgate";

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// What the "sdgate" chunk holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

fn chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + data.len());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(ty);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(ty);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// The PNG with a tEXt "sdgate" chunk inserted right after IHDR (None when the bytes are no PNG
/// with an IHDR first).
pub fn insert(png: &[u8], tag: &Tag) -> Option<Vec<u8>> {
    if png.get(..8)? != SIGNATURE || png.get(12..16)? != b"IHDR" {
        return None;
    }
    let len = u32::from_be_bytes(png.get(8..12)?.try_into().ok()?) as usize;
    let after_ihdr = 8usize.checked_add(12)?.checked_add(len)?;
    if after_ihdr > png.len() {
        return None;
    }
    let json = serde_json::to_string(tag).ok()?;
    let mut data = KEYWORD.as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(json.as_bytes());
    let mut out = Vec::with_capacity(png.len() + data.len() + 12);
    out.extend_from_slice(&png[..after_ihdr]);
    out.extend(chunk(b"tEXt", &data));
    out.extend_from_slice(&png[after_ihdr..]);
    Some(out)
}

/// The tag from the text of an "sdgate" chunk.
pub fn parse(text: &str) -> Tag {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{Limits, decode_bytes, encode_png_with_infotext, read_metadata};

    #[test]
    fn round_trip_keeps_infotext_and_pixels() {
        let img = image::RgbImage::from_fn(9, 5, |x, y| image::Rgb([x as u8 * 20, y as u8 * 40, 7]));
        let png = encode_png_with_infotext(&img, Some("a 猫\nSteps: 4, Sampler: Euler, Seed: 1")).unwrap();
        let tag = Tag {
            job: Some("j1".into()),
            created: Some("2024-05-06T07:08:09+00:00".into()),
        };
        let tagged = insert(&png, &tag).unwrap();
        let meta = read_metadata(&tagged, &Limits::default()).unwrap();
        assert_eq!(
            meta.infotext.as_deref(),
            Some("a 猫\nSteps: 4, Sampler: Euler, Seed: 1")
        );
        let item = meta.items.iter().find(|t| t.keyword == KEYWORD).unwrap();
        assert_eq!(parse(&item.text), tag);
        let px = decode_bytes(&tagged, &Limits::default()).unwrap().to_rgb_flattened();
        assert_eq!(px.as_raw(), img.as_raw());
        assert!(insert(b"not a png", &tag).is_none());
        assert!(insert(&png[..20], &tag).is_none());
        assert_eq!(parse("garbage"), Tag::default());
    }
}
