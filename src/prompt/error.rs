use thiserror::Error;

use super::ti::TiError;

/// Everything that can go wrong between a prompt string and its conditioning.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error("emphasis weight {0:?} is not a number")]
    InvalidWeight(String),
    #[error("emphasis weight {0} is out of range (at most {max} in magnitude, and finite)", max = super::chunks::MAX_ABS_WEIGHT)]
    WeightOutOfRange(f64),
    #[error("prompt-editing step {0:?} is not a usable number")]
    InvalidScheduleNumber(String),
    #[error("brackets are nested more than {0} deep")]
    TooDeep(usize),
    #[error("the number of steps must be at least 1")]
    ZeroSteps,
    #[error("the prompt's schedule (prompt editing and alternation over all steps) is too large")]
    ScheduleTooLarge,
    #[error("the prompt is not valid UTF-8 (at byte {position})")]
    InvalidUtf8 { position: usize },
    #[error("the prompt is {chars} characters long; at most {limit} are accepted")]
    TextTooLong { chars: usize, limit: usize },
    #[error("the prompt needs {chunks} chunks of 75 tokens; at most {limit} are accepted ({tokens} tokens)")]
    TooManyChunks { chunks: usize, limit: usize, tokens: usize },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("token embeddings: {0}")]
    TokenEmbeddings(String),
    #[error("text encoder: {0}")]
    Encoder(String),
    #[error("textual inversion: {0}")]
    Embedding(#[from] TiError),
}
