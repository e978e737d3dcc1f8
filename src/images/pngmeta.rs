//! A small PNG chunk walker: the header facts the WebUI's alpha rules need (colour type, tRNS) and
//! the text chunks (tEXt, zTXt, iTXt) that carry the infotext, read the way Pillow reads them.

use std::io::Read;

use super::ImageError;

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// Pillow's MAX_TEXT_CHUNK: a decompressed text chunk larger than this is not read.
const MAX_TEXT_CHUNK: usize = 1 << 20;
/// Pillow's MAX_TEXT_MEMORY: text kept from one file.
const MAX_TEXT_MEMORY: usize = 64 << 20;

/// One chunk: its type and its data (CRC not checked, as Pillow does not check ancillary CRCs
/// when reading text either).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub ty: [u8; 4],
    pub data: &'a [u8],
}

/// Walks the chunks of a PNG file up to IEND. Errors on a bad signature or a truncated chunk.
pub(crate) fn chunks(bytes: &[u8]) -> Result<Vec<Chunk<'_>>, ImageError> {
    if bytes.len() < 8 || &bytes[..8] != SIGNATURE {
        return Err(ImageError::Corrupt("not a PNG signature".into()));
    }
    let mut out = Vec::new();
    let mut pos = 8usize;
    while pos < bytes.len() {
        let header = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| ImageError::Corrupt("PNG chunk header truncated".into()))?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let ty = [header[4], header[5], header[6], header[7]];
        let start = pos + 8;
        let end = start
            .checked_add(len)
            .filter(|&e| e.checked_add(4).is_some_and(|c| c <= bytes.len()))
            .ok_or_else(|| ImageError::Corrupt(format!("PNG chunk {} truncated", String::from_utf8_lossy(&ty))))?;
        out.push(Chunk {
            ty,
            data: &bytes[start..end],
        });
        pos = end + 4;
        if &ty == b"IEND" {
            break;
        }
    }
    Ok(out)
}

/// Facts from IHDR and tRNS that decide how Pillow would open the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PngHeader {
    pub color_type: u8,
    pub bit_depth: u8,
    /// tRNS data, when present before the first IDAT.
    pub trns: Option<Vec<u8>>,
}

impl PngHeader {
    /// Whether Pillow (plus the WebUI's `fix_png_transparency`) ends with an RGBA image whose alpha
    /// the WebUI honours: colour type 6 (RGBA), or a palette image whose tRNS is not "simple"
    /// (Pillow's rule: a single fully transparent entry among fully opaque ones is stored as an index
    /// and dropped by convert('RGB')).
    pub fn alpha_is_honoured(&self) -> bool {
        match self.color_type {
            6 => true,
            3 => self.trns.as_deref().is_some_and(|t| !is_simple_palette_trns(t)),
            _ => false,
        }
    }
}

/// Pillow's `_simple_palette`: `^\xff*\x00\xff*$`.
fn is_simple_palette_trns(t: &[u8]) -> bool {
    let zeros = t.iter().filter(|&&b| b == 0).count();
    zeros == 1 && t.iter().all(|&b| b == 0 || b == 0xff)
}

pub(crate) fn header(bytes: &[u8]) -> Result<PngHeader, ImageError> {
    let chunks = chunks_until_idat(bytes)?;
    let ihdr = chunks
        .iter()
        .find(|c| &c.ty == b"IHDR")
        .filter(|c| c.data.len() >= 13)
        .ok_or_else(|| ImageError::Corrupt("PNG without IHDR".into()))?;
    let trns = chunks.iter().find(|c| &c.ty == b"tRNS").map(|c| c.data.to_vec());
    Ok(PngHeader {
        bit_depth: ihdr.data[8],
        color_type: ihdr.data[9],
        trns,
    })
}

fn chunks_until_idat(bytes: &[u8]) -> Result<Vec<Chunk<'_>>, ImageError> {
    // Tolerate truncation after the header chunks: the decoder reports it with a better message.
    if bytes.len() < 8 || &bytes[..8] != SIGNATURE {
        return Err(ImageError::Corrupt("not a PNG signature".into()));
    }
    let mut out = Vec::new();
    let mut pos = 8usize;
    while let Some(h) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = [h[4], h[5], h[6], h[7]];
        if &ty == b"IDAT" || &ty == b"IEND" {
            break;
        }
        let Some(data) = pos.checked_add(8 + len).and_then(|end| bytes.get(pos + 8..end)) else {
            break;
        };
        out.push(Chunk { ty, data });
        pos += 12 + len;
    }
    Ok(out)
}

/// A text chunk as Pillow reports it in `Image.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChunk {
    /// The keyword (Latin-1 decoded).
    pub keyword: String,
    /// The text.
    pub text: String,
}

/// Reads every tEXt, zTXt and iTXt chunk in file order, decoded as Pillow decodes them. A later
/// chunk with an existing keyword replaces the value but keeps the first one's position (Python
/// dict semantics). Chunks Pillow would skip (bad UTF-8 in iTXt, unknown compression, a
/// decompressed size over 1 MiB) are skipped.
pub fn read_text_chunks(bytes: &[u8]) -> Result<Vec<TextChunk>, ImageError> {
    let mut out: Vec<TextChunk> = Vec::new();
    let mut memory = 0usize;
    for chunk in chunks(bytes)? {
        let parsed = match &chunk.ty {
            b"tEXt" => parse_text(chunk.data),
            b"zTXt" => parse_ztxt(chunk.data),
            b"iTXt" => parse_itxt(chunk.data),
            _ => None,
        };
        let Some(tc) = parsed else { continue };
        memory += tc.text.len();
        if memory > MAX_TEXT_MEMORY {
            break;
        }
        match out.iter_mut().find(|c| c.keyword == tc.keyword) {
            Some(existing) => existing.text = tc.text,
            None => out.push(tc),
        }
    }
    Ok(out)
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn split_keyword(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = data.iter().position(|&b| b == 0)?;
    Some((&data[..nul], &data[nul + 1..]))
}

fn parse_text(data: &[u8]) -> Option<TextChunk> {
    // Pillow: a tEXt without NUL has the whole payload as keyword and an empty value.
    let (k, v) = split_keyword(data).unwrap_or((data, &[]));
    Some(TextChunk {
        keyword: latin1(k),
        text: latin1(v),
    })
}

fn inflate_limited(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut dec = flate2::read::ZlibDecoder::new(data).take(MAX_TEXT_CHUNK as u64 + 1);
    dec.read_to_end(&mut out).ok()?;
    (out.len() <= MAX_TEXT_CHUNK).then_some(out)
}

fn parse_ztxt(data: &[u8]) -> Option<TextChunk> {
    let (k, rest) = split_keyword(data)?;
    let (&method, comp) = rest.split_first()?;
    if method != 0 {
        return None;
    }
    let v = inflate_limited(comp)?;
    Some(TextChunk {
        keyword: latin1(k),
        text: latin1(&v),
    })
}

fn parse_itxt(data: &[u8]) -> Option<TextChunk> {
    let (k, rest) = split_keyword(data)?;
    let (&flag, rest) = rest.split_first()?;
    let (&method, rest) = rest.split_first()?;
    let (_lang, rest) = split_keyword(rest)?;
    let (_tkey, v) = split_keyword(rest)?;
    let v = match (flag, method) {
        (0, _) => v.to_vec(),
        (1, 0) => inflate_limited(v)?,
        _ => return None,
    };
    Some(TextChunk {
        keyword: latin1(k),
        text: String::from_utf8(v).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_palette_rule() {
        assert!(is_simple_palette_trns(&[255, 0, 255]));
        assert!(is_simple_palette_trns(&[0]));
        assert!(!is_simple_palette_trns(&[255, 128]));
        assert!(!is_simple_palette_trns(&[0, 0]));
        assert!(!is_simple_palette_trns(&[255, 255]));
    }

    #[test]
    fn truncated_chunks_are_errors() {
        let mut b = SIGNATURE.to_vec();
        b.extend_from_slice(&[0, 0, 0, 200, b'I', b'H', b'D', b'R', 1, 2]);
        assert!(chunks(&b).is_err());
        assert!(read_text_chunks(b"nope").is_err());
    }
}
