//! The CLIP tokenizer: the model folder's tokenizer.json (HF `tokenizers`) behind the text clean-up
//! that the WebUI's tokenizer (transformers' CLIPTokenizer with ftfy installed) applies first.
//!
//! The tokenizer.json pipeline only does NFC, whitespace → one space and lowercasing. Before it,
//! [`clean_text`] does what ftfy.fix_text does to ordinary prompts: HTML entities are decoded
//! (repeatedly, unless the text holds a literal `<`), C0/C1 control characters and a few invisible
//! format characters are removed, curly quotes become straight ones, Latin ligatures are split,
//! full-width ASCII becomes ASCII, and whitespace runs collapse with the ends trimmed.
//! Not done: ftfy's mojibake repair (`fix_encoding`, text decoded with the wrong code page),
//! half-width katakana, terminal escapes, and HTML entities outside a common table.

use std::path::Path;

use super::PromptError;
use super::pychar;

/// A CLIP BPE tokenizer and the ids the chunker needs.
pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    comma: Option<u32>,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("pad", &self.pad)
            .field("comma", &self.comma)
            .finish()
    }
}

impl ClipTokenizer {
    /// Load tokenizer.json; `bos`, `eos`, `pad` come from the model manifest.
    pub fn from_file(path: &Path, bos: u32, eos: u32, pad: u32) -> Result<Self, PromptError> {
        let bytes = std::fs::read(path).map_err(|e| PromptError::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes, bos, eos, pad)
    }

    pub fn from_bytes(json: &[u8], bos: u32, eos: u32, pad: u32) -> Result<Self, PromptError> {
        let inner = tokenizers::Tokenizer::from_bytes(json).map_err(|e| PromptError::Tokenizer(e.to_string()))?;
        let comma = inner.token_to_id(",</w>");
        Ok(Self {
            inner,
            bos,
            eos,
            pad,
            comma,
        })
    }

    pub fn bos(&self) -> u32 {
        self.bos
    }

    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// Padding after the end token: EOS for SD 1.x, 0 for SD 2.x.
    pub fn pad(&self) -> u32 {
        self.pad
    }

    /// The id of `,</w>`, which the chunker backtracks to.
    pub fn comma(&self) -> Option<u32> {
        self.comma
    }

    /// Token ids of `text` without BOS/EOS (the WebUI's `tokenize`, `add_special_tokens=False`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, PromptError> {
        let cleaned = clean_text(text);
        if cleaned.is_empty() {
            return Ok(Vec::new());
        }
        let encoding = self
            .inner
            .encode(cleaned.as_str(), false)
            .map_err(|e| PromptError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }
}

/// The clean-up before BPE (see the module docs).
pub fn clean_text(text: &str) -> String {
    let may_unescape = !text.contains('<');
    let mut current = text.to_owned();
    // ftfy repeats its fixes until the text stops changing.
    for _ in 0..4 {
        let mut next = if may_unescape {
            unescape_html(&current)
        } else {
            current.clone()
        };
        next = next.chars().filter_map(fix_char).flat_map(|s| s.chars()).collect();
        if next == current {
            break;
        }
        current = next;
    }
    let mut out = String::with_capacity(current.len());
    for word in current.split(pychar::is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// ftfy's per-character fixes: None drops the character.
fn fix_char(c: char) -> Option<CharFix> {
    let code = c as u32;
    let dropped = matches!(code, 0x00..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffc);
    if dropped {
        return None;
    }
    Some(match c {
        '\u{2bc}' | '\u{2018}'..='\u{201b}' => CharFix::One('\''),
        '\u{201c}'..='\u{201f}' => CharFix::One('"'),
        '\u{fb00}' => CharFix::Str("ff"),
        '\u{fb01}' => CharFix::Str("fi"),
        '\u{fb02}' => CharFix::Str("fl"),
        '\u{fb03}' => CharFix::Str("ffi"),
        '\u{fb04}' => CharFix::Str("ffl"),
        '\u{fb05}' => CharFix::Str("\u{17f}t"),
        '\u{fb06}' => CharFix::Str("st"),
        '\u{132}' => CharFix::Str("IJ"),
        '\u{133}' => CharFix::Str("ij"),
        '\u{3000}' => CharFix::One(' '),
        '\u{ff01}'..='\u{ff5e}' => CharFix::One(char::from_u32(code - 0xfee0).unwrap_or(c)),
        _ => CharFix::One(c),
    })
}

enum CharFix {
    One(char),
    Str(&'static str),
}

impl CharFix {
    fn chars(self) -> impl Iterator<Item = char> {
        let (one, s) = match self {
            CharFix::One(c) => (Some(c), ""),
            CharFix::Str(s) => (None, s),
        };
        one.into_iter().chain(s.chars())
    }
}

const ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("copy", "©"),
    ("reg", "®"),
    ("trade", "™"),
    ("hellip", "…"),
    ("mdash", "—"),
    ("ndash", "–"),
    ("laquo", "«"),
    ("raquo", "»"),
    ("lsquo", "\u{2018}"),
    ("rsquo", "\u{2019}"),
    ("ldquo", "\u{201c}"),
    ("rdquo", "\u{201d}"),
    ("deg", "°"),
    ("times", "×"),
    ("middot", "·"),
    ("eacute", "é"),
    ("egrave", "è"),
    ("aacute", "á"),
    ("uuml", "ü"),
    ("ouml", "ö"),
    ("auml", "ä"),
    ("szlig", "ß"),
];

/// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` entities that decode cleanly are replaced.
fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        match decode_entity(tail) {
            Some((decoded, len)) => {
                out.push_str(&decoded);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(tail: &str) -> Option<(String, usize)> {
    let body_start = if tail[1..].starts_with('#') { 2 } else { 1 };
    let body_len = tail[body_start..].bytes().take_while(u8::is_ascii_alphanumeric).count();
    if body_len == 0 || body_len > 24 || tail.as_bytes().get(body_start + body_len) != Some(&b';') {
        return None;
    }
    let body = &tail[body_start..body_start + body_len];
    let len = body_start + body_len + 1;
    if body_start == 2 {
        let code = match body.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => body.parse::<u32>().ok()?,
        };
        if code == 0 || (0x80..=0x9f).contains(&code) {
            return None;
        }
        return char::from_u32(code).map(|c| (c.to_string(), len));
    }
    let lower = body.to_ascii_lowercase();
    // ftfy accepts the lower-case spelling and the all-upper-case one.
    if body != lower && body != body.to_ascii_uppercase() {
        return ENTITIES
            .iter()
            .find(|(n, _)| *n == body)
            .map(|(_, v)| (v.to_string(), len));
    }
    ENTITIES
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, v)| (v.to_string(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_ftfy() {
        assert_eq!(clean_text("  a\t\n cat  "), "a cat");
        assert_eq!(clean_text("rock &amp; roll"), "rock & roll");
        assert_eq!(clean_text("&amp;lt;"), "<");
        assert_eq!(clean_text("<b> &amp;"), "<b> &amp;");
        assert_eq!(clean_text("\u{201c}hi\u{201d} it\u{2019}s"), "\"hi\" it's");
        assert_eq!(clean_text("\u{fb01}ne ＡＢＣ"), "fine ABC");
        assert_eq!(clean_text("a\0b\u{7f}c"), "abc");
        assert_eq!(clean_text("&#65;&#x42;&#0;&bogus;"), "AB&#0;&bogus;");
    }
}
