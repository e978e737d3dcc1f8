//! From prompts to conditioning tensors: the WebUI's `get_learned_conditioning`,
//! `get_multicond_learned_conditioning` and `FrozenCLIPEmbedderWithCustomWordsBase.forward`.
//!
//! The texts of one prompt's schedule are encoded together as the WebUI batches them: every text
//! gets as many chunks as the longest (shorter ones are filled with empty chunks), and the
//! "Original" emphasis restores the mean over that whole batch. Identical texts are encoded once
//! (the mean still counts them as often as the WebUI's batch holds them); identical prompts in a
//! batch share one result.

use std::collections::HashMap;
use std::sync::Arc;

use ndarray::{Array2, Array3, Axis, Slice, concatenate};

use super::chunks::{ChunkOptions, MAX_CHUNKS, PromptChunk, tokenize_line};
use super::encoder::{TextEncoder, TokenEmbeddings};
use super::multicond::split_and;
use super::schedule::{ScheduleSteps, prompt_schedule};
use super::ti::{Embedding, TiLookup};
use super::tokenizer::ClipTokenizer;
use super::{EmphasisMode, PromptError, check_prompt_text};

/// Settings that change the conditioning (the WebUI's options of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionerOptions {
    pub emphasis: EmphasisMode,
    /// CLIP skip (`CLIP_stop_at_last_layers`): 1 = the last layer, 2 = the one before, ...
    pub clip_skip: usize,
    pub comma_padding_backtrack: usize,
    pub max_chunks: usize,
}

impl Default for ConditionerOptions {
    fn default() -> Self {
        Self {
            emphasis: EmphasisMode::Original,
            clip_skip: 1,
            comma_padding_backtrack: 20,
            max_chunks: MAX_CHUNKS,
        }
    }
}

/// One entry of a prompt's schedule: `cond` (`[77·chunks, hidden]`) applies up to `end_at_step`.
#[derive(Debug, Clone)]
pub struct ScheduledCond {
    pub end_at_step: usize,
    pub cond: Arc<Array2<f32>>,
}

/// One `AND` part: its schedule and weight.
#[derive(Debug, Clone)]
pub struct ComposableCond {
    pub schedules: Arc<[ScheduledCond]>,
    pub weight: f64,
}

/// The WebUI's `MulticondLearnedConditioning`: per prompt of the batch, its `AND` parts.
#[derive(Debug, Clone)]
pub struct MulticondConditioning {
    pub batch: Vec<Vec<ComposableCond>>,
}

/// What an encoding used, for the infotext ("TI hashes").
#[derive(Debug, Clone, Default)]
pub struct EncodeReport {
    /// Embeddings in order of first use.
    pub used_embeddings: Vec<Arc<Embedding>>,
}

impl EncodeReport {
    fn add(&mut self, e: &Arc<Embedding>) {
        if !self.used_embeddings.iter().any(|u| u.name == e.name) {
            self.used_embeddings.push(e.clone());
        }
    }
}

/// Tokenizer, token embeddings and textual-inversion lookup of one model, with its options.
#[derive(Debug, Clone)]
pub struct Conditioner {
    tokenizer: Arc<ClipTokenizer>,
    embeddings: Arc<TokenEmbeddings>,
    ti: Arc<TiLookup>,
    pub options: ConditionerOptions,
}

/// Rows of one chunk position: a text's own chunk, or the empty chunk.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Row {
    Line(usize),
    Empty,
}

impl Conditioner {
    pub fn new(
        tokenizer: Arc<ClipTokenizer>,
        embeddings: Arc<TokenEmbeddings>,
        ti: Arc<TiLookup>,
        options: ConditionerOptions,
    ) -> Result<Self, PromptError> {
        if !ti.is_empty() && ti.hidden() != embeddings.hidden_size() {
            return Err(PromptError::TokenEmbeddings(format!(
                "textual inversion vectors are {} wide, the token embeddings {}",
                ti.hidden(),
                embeddings.hidden_size()
            )));
        }
        if options.clip_skip == 0 {
            return Err(PromptError::Encoder("CLIP skip must be at least 1".into()));
        }
        Ok(Self {
            tokenizer,
            embeddings,
            ti,
            options,
        })
    }

    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    fn chunk_options(&self) -> ChunkOptions {
        ChunkOptions {
            comma_padding_backtrack: self.options.comma_padding_backtrack,
            emphasis: self.options.emphasis,
            max_chunks: self.options.max_chunks,
        }
    }

    /// One line's chunks and token count (the WebUI's `tokenize_line`).
    pub fn tokenize_line(&self, line: &str) -> Result<(Vec<PromptChunk>, usize), PromptError> {
        tokenize_line(line, &self.tokenizer, &self.ti, self.chunk_options())
    }

    /// The encoder input of one chunk `[77, hidden]`: embeddings, SD 2.x padding, TI vectors.
    fn chunk_embeds(&self, chunk: &PromptChunk, mut out: ndarray::ArrayViewMut2<'_, f32>) -> Result<(), PromptError> {
        let tok = &self.tokenizer;
        let mut ids = chunk.tokens.clone();
        if tok.eos() != tok.pad()
            && let Some(first_end) = ids.iter().position(|&t| t == tok.eos())
        {
            for t in &mut ids[first_end + 1..] {
                *t = tok.pad();
            }
        }
        self.embeddings.lookup_into(&ids, out.view_mut())?;
        let hidden = self.embeddings.hidden_size();
        for fix in &chunk.fixes {
            let Some(vectors) = fix.embedding.vectors.for_width(hidden) else {
                continue;
            };
            let start = fix.offset + 1;
            let n = vectors.nrows().min(ids.len().saturating_sub(start + 1));
            out.slice_axis_mut(Axis(0), Slice::from(start..start + n))
                .assign(&vectors.slice_axis(Axis(0), Slice::from(..n)));
        }
        Ok(())
    }

    /// Encode texts as one WebUI batch: every result is `[77·max_chunks, hidden]`.
    pub fn encode_texts(
        &self,
        encoder: &mut dyn TextEncoder,
        texts: &[String],
        report: &mut EncodeReport,
    ) -> Result<Vec<Arc<Array2<f32>>>, PromptError> {
        let mut unique: Vec<Vec<PromptChunk>> = Vec::new();
        let mut line_of: HashMap<&str, usize> = HashMap::new();
        let mut text_line = Vec::with_capacity(texts.len());
        let mut line_count: Vec<usize> = Vec::new();
        for t in texts {
            let idx = match line_of.get(t.as_str()) {
                Some(&i) => i,
                None => {
                    let (chunks, _) = self.tokenize_line(t)?;
                    unique.push(chunks);
                    line_count.push(0);
                    line_of.insert(t, unique.len() - 1);
                    unique.len() - 1
                }
            };
            line_count[idx] += 1;
            text_line.push(idx);
        }
        let chunk_count = unique.iter().map(Vec::len).max().unwrap_or(1);
        let hidden = self.embeddings.hidden_size();
        let empty = PromptChunk::empty(self.tokenizer.bos(), self.tokenizer.eos());
        // encoded[i][line] = the rows of chunk position i.
        let mut per_position: Vec<HashMap<Row, Arc<Array2<f32>>>> = Vec::with_capacity(chunk_count);
        for i in 0..chunk_count {
            let mut rows: Vec<Row> = Vec::new();
            let mut counts: Vec<usize> = Vec::new();
            for (line, chunks) in unique.iter().enumerate() {
                let row = if i < chunks.len() { Row::Line(line) } else { Row::Empty };
                match rows.iter().position(|&r| r == row) {
                    Some(k) => counts[k] += line_count[line],
                    None => {
                        rows.push(row);
                        counts.push(line_count[line]);
                    }
                }
            }
            let chunk_of = |r: Row| match r {
                Row::Line(l) => &unique[l][i],
                Row::Empty => &empty,
            };
            let width = empty.tokens.len();
            let mut inputs = Array3::<f32>::zeros((rows.len(), width, hidden));
            for (k, &r) in rows.iter().enumerate() {
                let chunk = chunk_of(r);
                for fix in &chunk.fixes {
                    report.add(&fix.embedding);
                }
                self.chunk_embeds(chunk, inputs.index_axis_mut(Axis(0), k))?;
            }
            let mut z = encoder.encode(inputs, self.options.clip_skip)?;
            if z.shape() != [rows.len(), width, hidden] {
                return Err(PromptError::Encoder(format!(
                    "the text encoder returned shape {:?}, expected {:?}",
                    z.shape(),
                    [rows.len(), width, hidden]
                )));
            }
            let multipliers: Vec<Vec<f64>> = rows.iter().map(|&r| chunk_of(r).multipliers.clone()).collect();
            self.options.emphasis.apply(&mut z, &multipliers, &counts);
            let map = rows
                .iter()
                .enumerate()
                .map(|(k, &r)| (r, Arc::new(z.index_axis(Axis(0), k).to_owned())))
                .collect();
            per_position.push(map);
        }
        let mut by_line: Vec<Arc<Array2<f32>>> = Vec::with_capacity(unique.len());
        for (line, chunks) in unique.iter().enumerate() {
            let parts: Vec<_> = (0..chunk_count)
                .map(|i| {
                    let key = if i < chunks.len() { Row::Line(line) } else { Row::Empty };
                    per_position[i][&key].view()
                })
                .collect();
            let whole = concatenate(Axis(0), &parts).map_err(|e| PromptError::Encoder(e.to_string()))?;
            by_line.push(Arc::new(whole));
        }
        Ok(text_line.into_iter().map(|l| by_line[l].clone()).collect())
    }

    /// The WebUI's `get_learned_conditioning`: each prompt's schedule with its conditioning.
    pub fn get_learned_conditioning(
        &self,
        encoder: &mut dyn TextEncoder,
        prompts: &[String],
        steps: ScheduleSteps,
        report: &mut EncodeReport,
    ) -> Result<Vec<Arc<[ScheduledCond]>>, PromptError> {
        for p in prompts {
            check_prompt_text(p)?;
        }
        let mut cache: HashMap<&str, Arc<[ScheduledCond]>> = HashMap::new();
        let mut out = Vec::with_capacity(prompts.len());
        for p in prompts {
            if let Some(c) = cache.get(p.as_str()) {
                out.push(c.clone());
                continue;
            }
            let schedule = prompt_schedule(p, steps)?;
            let texts: Vec<String> = schedule.iter().map(|s| s.text.clone()).collect();
            let conds = self.encode_texts(encoder, &texts, report)?;
            let entry: Arc<[ScheduledCond]> = schedule
                .iter()
                .zip(conds)
                .map(|(s, cond)| ScheduledCond {
                    end_at_step: s.end_at_step,
                    cond,
                })
                .collect();
            cache.insert(p, entry.clone());
            out.push(entry);
        }
        Ok(out)
    }

    /// The WebUI's `get_multicond_learned_conditioning`: prompts split on `AND`, each part scheduled.
    pub fn get_multicond_learned_conditioning(
        &self,
        encoder: &mut dyn TextEncoder,
        prompts: &[String],
        steps: ScheduleSteps,
        report: &mut EncodeReport,
    ) -> Result<MulticondConditioning, PromptError> {
        for p in prompts {
            check_prompt_text(p)?;
        }
        let mut flat: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut per_prompt: Vec<Vec<(usize, f64)>> = Vec::with_capacity(prompts.len());
        for p in prompts {
            let mut parts = Vec::new();
            for sub in split_and(p) {
                let i = *index.entry(sub.text.clone()).or_insert_with(|| {
                    flat.push(sub.text.clone());
                    flat.len() - 1
                });
                parts.push((i, sub.weight));
            }
            per_prompt.push(parts);
        }
        let learned = self.get_learned_conditioning(encoder, &flat, steps, report)?;
        Ok(MulticondConditioning {
            batch: per_prompt
                .into_iter()
                .map(|parts| {
                    parts
                        .into_iter()
                        .map(|(i, weight)| ComposableCond {
                            schedules: learned[i].clone(),
                            weight,
                        })
                        .collect()
                })
                .collect(),
        })
    }

    /// The conditioning of the empty prompt (the WebUI's `cond_stage_model_empty_prompt`), used to
    /// pad cond/uncond to equal lengths.
    pub fn empty_prompt(&self, encoder: &mut dyn TextEncoder) -> Result<Arc<Array2<f32>>, PromptError> {
        let mut report = EncodeReport::default();
        let mut v = self.encode_texts(encoder, &[String::new()], &mut report)?;
        v.pop().ok_or_else(|| PromptError::Encoder("no output".into()))
    }
}

/// The WebUI's `reconstruct_cond_batch` for one prompt: the entry for `current_step`, which is the
/// sampler's 0-based step counter (the WebUI's `CFGDenoiser.step`); past the end the first entry
/// is used, as in the WebUI.
pub fn reconstruct_cond(schedules: &[ScheduledCond], current_step: usize) -> Option<&Arc<Array2<f32>>> {
    schedules
        .iter()
        .find(|e| current_step <= e.end_at_step)
        .or_else(|| schedules.first())
        .map(|e| &e.cond)
}

/// The WebUI's `stack_conds`: stack conditionings of different lengths into `[n, tokens, hidden]`,
/// repeating each one's last vector up to the longest.
pub fn stack_conds(conds: &[&Array2<f32>]) -> Result<Array3<f32>, PromptError> {
    let tokens = conds.iter().map(|c| c.nrows()).max().unwrap_or(0);
    let hidden = conds.first().map_or(0, |c| c.ncols());
    let mut out = Array3::<f32>::zeros((conds.len(), tokens, hidden));
    for (i, c) in conds.iter().enumerate() {
        if c.ncols() != hidden || c.nrows() == 0 {
            return Err(PromptError::Encoder("conditionings of different widths".into()));
        }
        let mut dst = out.index_axis_mut(Axis(0), i);
        dst.slice_axis_mut(Axis(0), Slice::from(..c.nrows())).assign(c);
        let last = c.row(c.nrows() - 1);
        for r in c.nrows()..tokens {
            dst.row_mut(r).assign(&last);
        }
    }
    Ok(out)
}

/// The WebUI's `pad_cond_uncond` option: append copies of the empty prompt's conditioning
/// (`[77, hidden]`) to the shorter of cond and uncond until their lengths match.
pub fn pad_cond_uncond(
    cond: &Array2<f32>,
    uncond: &Array2<f32>,
    empty: &Array2<f32>,
) -> Result<(Array2<f32>, Array2<f32>), PromptError> {
    let pad = |x: &Array2<f32>, target: usize| -> Result<Array2<f32>, PromptError> {
        let mut parts = vec![x.view()];
        let mut len = x.nrows();
        while len < target {
            parts.push(empty.view());
            len += empty.nrows();
        }
        concatenate(Axis(0), &parts).map_err(|e| PromptError::Encoder(e.to_string()))
    };
    if empty.nrows() == 0 || cond.ncols() != uncond.ncols() || empty.ncols() != cond.ncols() {
        return Err(PromptError::Encoder(
            "cond, uncond and the empty prompt differ in width".into(),
        ));
    }
    let target = cond.nrows().max(uncond.nrows());
    Ok((pad(cond, target)?, pad(uncond, target)?))
}
