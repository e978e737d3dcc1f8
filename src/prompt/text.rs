//! Limits on the prompt text itself, checked before any parsing.

use super::PromptError;

/// Longest prompt accepted, in characters (the chunk limit usually refuses long prompts first; this
/// bounds the parsers' work: emphasis is quadratic in the worst case, as in the WebUI).
pub const MAX_PROMPT_CHARS: usize = 32_768;

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
