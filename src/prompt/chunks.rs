//! Long prompts: the WebUI's `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line`.
//!
//! Tokens go into chunks of 75; each chunk becomes BOS + 75 + EOS = 77 tokens, padded with EOS (the
//! encoder input replaces everything after the first EOS with the pad id, for SD 2.x). When a chunk
//! is full and the last comma is at most `comma_padding_backtrack` (20) tokens back, the tokens after
//! that comma move to the next chunk. BREAK ends the chunk. A textual-inversion embedding is never
//! split: it moves whole to the next chunk. Each token carries its emphasis multiplier.
//!
//! One deliberate difference: when the comma backtrack moves tokens that include an embedding, the
//! WebUI leaves the embedding's splice position behind in the old chunk (its vectors then overwrite
//! padding while the moved placeholders stay token id 0, `!`). Here the splice moves with its tokens.

use std::sync::Arc;

use super::EmphasisMode;
use super::PromptError;
use super::attention::{Fragment, parse_prompt_attention};
use super::ti::{Embedding, TiLookup};
use super::tokenizer::ClipTokenizer;

/// Tokens of the prompt per chunk, BOS and EOS excluded.
pub const CHUNK_LENGTH: usize = 75;
/// Most chunks one prompt may need: 64 × 75 = 4800 tokens. More is refused.
pub const MAX_CHUNKS: usize = 64;
/// Largest emphasis multiplier accepted, in magnitude (anything above makes the encoder output
/// meaningless or infinite).
pub const MAX_ABS_WEIGHT: f64 = 1000.0;

/// Where an embedding's vectors go: `offset` counts prompt tokens in the chunk (BOS not counted,
/// as the WebUI's `PromptChunkFix`).
#[derive(Debug, Clone)]
pub struct TiFix {
    pub offset: usize,
    pub embedding: Arc<Embedding>,
}

/// One chunk: 77 token ids (embedding positions hold 0) and 77 multipliers.
#[derive(Debug, Clone, Default)]
pub struct PromptChunk {
    pub tokens: Vec<u32>,
    pub multipliers: Vec<f64>,
    pub fixes: Vec<TiFix>,
}

impl PromptChunk {
    /// BOS, then EOS to the end, multipliers 1 (the WebUI's `empty_chunk`).
    pub fn empty(bos: u32, eos: u32) -> Self {
        let mut tokens = vec![eos; CHUNK_LENGTH + 2];
        tokens[0] = bos;
        Self {
            tokens,
            multipliers: vec![1.0; CHUNK_LENGTH + 2],
            fixes: Vec::new(),
        }
    }
}

/// The settings that shape chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkOptions {
    /// The WebUI's `comma_padding_backtrack` (default 20; 0 turns it off).
    pub comma_padding_backtrack: usize,
    /// With [`EmphasisMode::None`] the text is not parsed for emphasis (nor BREAK).
    pub emphasis: EmphasisMode,
    pub max_chunks: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            comma_padding_backtrack: 20,
            emphasis: EmphasisMode::Original,
            max_chunks: MAX_CHUNKS,
        }
    }
}

struct Builder<'a> {
    tok: &'a ClipTokenizer,
    opts: ChunkOptions,
    chunks: Vec<PromptChunk>,
    chunk: PromptChunk,
    token_count: usize,
    last_comma: Option<usize>,
}

impl Builder<'_> {
    fn next_chunk(&mut self, is_last: bool) -> Result<(), PromptError> {
        self.token_count += if is_last { self.chunk.tokens.len() } else { CHUNK_LENGTH };
        let mut chunk = std::mem::take(&mut self.chunk);
        let to_add = CHUNK_LENGTH.saturating_sub(chunk.tokens.len());
        chunk.tokens.extend(std::iter::repeat_n(self.tok.eos(), to_add));
        chunk.multipliers.extend(std::iter::repeat_n(1.0, to_add));
        chunk.tokens.insert(0, self.tok.bos());
        chunk.tokens.push(self.tok.eos());
        chunk.multipliers.insert(0, 1.0);
        chunk.multipliers.push(1.0);
        self.last_comma = None;
        self.chunks.push(chunk);
        if self.chunks.len() > self.opts.max_chunks {
            return Err(PromptError::TooManyChunks {
                chunks: self.chunks.len(),
                limit: self.opts.max_chunks,
                tokens: self.token_count,
            });
        }
        Ok(())
    }

    fn fragment(&mut self, tokens: &[u32], weight: f64, ti: &TiLookup) -> Result<(), PromptError> {
        let mut position = 0;
        while position < tokens.len() {
            let token = tokens[position];
            let len = self.chunk.tokens.len();
            if Some(token) == self.tok.comma() {
                self.last_comma = Some(len);
            } else if let Some(comma) = self.last_comma
                && self.opts.comma_padding_backtrack != 0
                && len == CHUNK_LENGTH
                && len - comma <= self.opts.comma_padding_backtrack
            {
                let at = comma + 1;
                let tokens = self.chunk.tokens.split_off(at);
                let multipliers = self.chunk.multipliers.split_off(at);
                let (stay, moved): (Vec<TiFix>, Vec<TiFix>) = std::mem::take(&mut self.chunk.fixes)
                    .into_iter()
                    .partition(|f| f.offset < at);
                self.chunk.fixes = stay;
                self.next_chunk(false)?;
                self.chunk.tokens = tokens;
                self.chunk.multipliers = multipliers;
                self.chunk.fixes = moved
                    .into_iter()
                    .map(|f| TiFix {
                        offset: f.offset - at,
                        embedding: f.embedding,
                    })
                    .collect();
            }
            if self.chunk.tokens.len() == CHUNK_LENGTH {
                self.next_chunk(false)?;
            }
            let Some((embedding, trigger_len)) = ti.find_at(tokens, position) else {
                self.chunk.tokens.push(token);
                self.chunk.multipliers.push(weight);
                position += 1;
                continue;
            };
            let n = embedding.num_vectors();
            if self.chunk.tokens.len() + n > CHUNK_LENGTH {
                self.next_chunk(false)?;
            }
            self.chunk.fixes.push(TiFix {
                offset: self.chunk.tokens.len(),
                embedding: embedding.clone(),
            });
            self.chunk.tokens.extend(std::iter::repeat_n(0, n));
            self.chunk.multipliers.extend(std::iter::repeat_n(weight, n));
            position += trigger_len;
        }
        Ok(())
    }
}

/// The emphasis fragments of a line as the chunker sees them.
pub fn fragments(line: &str, emphasis: EmphasisMode) -> Result<Vec<Fragment>, PromptError> {
    if emphasis == EmphasisMode::None {
        return Ok(vec![Fragment {
            text: line.to_owned(),
            weight: 1.0,
        }]);
    }
    parse_prompt_attention(line)
}

/// Cut one line of prompt into chunks; also returns the WebUI's token count (for the UI counter).
pub fn tokenize_line(
    line: &str,
    tok: &ClipTokenizer,
    ti: &TiLookup,
    opts: ChunkOptions,
) -> Result<(Vec<PromptChunk>, usize), PromptError> {
    super::check_prompt_text(line)?;
    let parsed = fragments(line, opts.emphasis)?;
    let mut b = Builder {
        tok,
        opts,
        chunks: Vec::new(),
        chunk: PromptChunk::default(),
        token_count: 0,
        last_comma: None,
    };
    for f in &parsed {
        if f.is_break() {
            b.next_chunk(false)?;
            continue;
        }
        if !f.weight.is_finite() || f.weight.abs() > MAX_ABS_WEIGHT {
            return Err(PromptError::WeightOutOfRange(f.weight));
        }
        let tokens = tok.encode(&f.text)?;
        b.fragment(&tokens, f.weight, ti)?;
    }
    if !b.chunk.tokens.is_empty() || b.chunks.is_empty() {
        b.next_chunk(true)?;
    }
    Ok((b.chunks, b.token_count))
}
