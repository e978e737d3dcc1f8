//! The WebUI's prompt language, from the request's text to the text encoder's conditioning.
//!
//! The order of work, as the WebUI does it for one generation:
//! 1. [`strip_comments`] (`#` to the end of the line), then [`parse_extra_networks`] takes out
//!    `<lora:name:w>`-style tags for the model layer.
//! 2. The positive prompt is split on `AND` ([`split_and`]) into weighted sub-prompts (composable
//!    diffusion); the negative prompt is not.
//! 3. Each (sub-)prompt gets a schedule over the sampling steps ([`prompt_schedule`]): prompt editing
//!    `[from:to:when]` and alternation `[a|b]`.
//! 4. Each scheduled text is parsed for emphasis ([`parse_prompt_attention`]), tokenized
//!    ([`ClipTokenizer`]), cut into 75-token chunks ([`chunks::tokenize_line`]) with textual-inversion
//!    embeddings spliced in ([`ti::EmbeddingDb`]).
//! 5. The [`Conditioner`] runs the chunks through a [`TextEncoder`] (the runtime's ONNX session),
//!    applies emphasis ([`EmphasisMode`]) and concatenates chunks: `[77·n, hidden]` per text, as
//!    [`ScheduledCond`] lists and [`MulticondConditioning`] for `AND`.

mod attention;
pub mod chunks;
mod comments;
mod conditioning;
mod emphasis;
mod encoder;
mod error;
mod extra_networks;
mod multicond;
mod pychar;
mod schedule;
mod text;
pub mod ti;
mod tokenizer;

pub use attention::{Fragment, parse_prompt_attention};
pub use chunks::{ChunkOptions, PromptChunk, TiFix};
pub use comments::strip_comments;
pub use conditioning::{
    ComposableCond, Conditioner, ConditionerOptions, EncodeReport, MulticondConditioning, ScheduledCond,
    pad_cond_uncond, reconstruct_cond, stack_conds,
};
pub use emphasis::{EmphasisMode, emphasis_infotext};
pub use encoder::{TextEncoder, TokenEmbeddings};
pub use error::PromptError;
pub use extra_networks::{ExtraNetwork, parse_extra_networks};
pub use multicond::{SubPrompt, split_and};
pub use schedule::{MAX_NESTING, ScheduleSteps, ScheduledText, prompt_schedule};
pub use text::{MAX_PROMPT_CHARS, check_prompt_text, prompt_from_utf8};
pub use tokenizer::{ClipTokenizer, clean_text};
