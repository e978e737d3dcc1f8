//! Limits on the prompt text itself, checked before any parsing.

use super::PromptError;

/// Longest prompt accepted, in characters (the chunk limit usually refuses long prompts first; this
/// bounds the parsers' work: emphasis is quadratic in the worst case, as in the WebUI).
pub const MAX_PROMPT_CHARS: usize = 32_768;

/// A prompt that arrives as bytes (a file, an image's metadata): UTF-8 or a clear error.
pub fn prompt_from_utf8(bytes: &[u8]) -> Result<&str, PromptError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PromptError::InvalidUtf8 {
        position: e.valid_up_to(),
    })?;
    check_prompt_text(text)?;
    Ok(text)
}

/// Refuse prompts longer than [`MAX_PROMPT_CHARS`]. NUL and other control characters are allowed
/// (the tokenizer drops them, as the WebUI's ftfy does).
pub fn check_prompt_text(text: &str) -> Result<(), PromptError> {
    // Bytes bound chars from above: only count when the byte length could exceed the limit.
    if text.len() > MAX_PROMPT_CHARS {
        let chars = text.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(PromptError::TextTooLong {
                chars,
                limit: MAX_PROMPT_CHARS,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_must_be_utf8() {
        assert_eq!(prompt_from_utf8(b"a cat\0").unwrap(), "a cat\0");
        assert!(matches!(
            prompt_from_utf8(b"a \xff cat"),
            Err(PromptError::InvalidUtf8 { position: 2 })
        ));
        assert!(check_prompt_text(&"x".repeat(MAX_PROMPT_CHARS)).is_ok());
        assert!(check_prompt_text(&"x".repeat(MAX_PROMPT_CHARS + 1)).is_err());
        assert!(check_prompt_text(&"é".repeat(MAX_PROMPT_CHARS)).is_ok());
    }
}
