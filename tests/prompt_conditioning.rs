//! Conditioning assembly with a mock text encoder (identity plus a per-layer scale), so every step
//! between token ids and the returned tensors can be checked exactly.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::{Array2, Array3, Axis};
use sdgate::prompt::ti::{Embedding, EmbeddingDb, EmbeddingVectors, TiLookup};
use sdgate::prompt::{
    ClipTokenizer, Conditioner, ConditionerOptions, EmphasisMode, EncodeReport, PromptError, ScheduleSteps,
    TextEncoder, TokenEmbeddings, pad_cond_uncond, reconstruct_cond, stack_conds,
};

const HIDDEN: usize = 4;

/// Returns `inputs * layer_from_end`; records the batch sizes it saw.
#[derive(Default)]
struct MockEncoder {
    calls: Vec<usize>,
    layers: Vec<usize>,
}

impl TextEncoder for MockEncoder {
    fn encode(&mut self, inputs: Array3<f32>, layer_from_end: usize) -> Result<Array3<f32>, PromptError> {
        self.calls.push(inputs.shape()[0]);
        self.layers.push(layer_from_end);
        Ok(inputs * layer_from_end as f32)
    }
}

fn tokenizer(pad: u32) -> Arc<ClipTokenizer> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd1/model/tokenizer/tokenizer.json");
    Arc::new(ClipTokenizer::from_file(&path, 49406, 49407, pad).unwrap())
}

/// Row i of the table: [i, i + 0.25, i + 0.5, 1] / 1000 (positive, distinct).
fn table() -> Arc<TokenEmbeddings> {
    let t = Array2::from_shape_fn((49408, HIDDEN), |(i, h)| {
        if h == 3 {
            0.001
        } else {
            (i as f32 + h as f32 * 0.25) / 1000.0
        }
    });
    Arc::new(TokenEmbeddings::from_array(t).unwrap())
}

fn emb(name: &str, n: usize, value: f32) -> Embedding {
    Embedding {
        name: name.into(),
        vectors: EmbeddingVectors::Single(Array2::from_elem((n, HIDDEN), value)),
        step: None,
        sd_checkpoint: None,
        sd_checkpoint_name: None,
        path: PathBuf::new(),
        sha256: "0123456789abcdef".repeat(4),
    }
}

fn conditioner(emphasis: EmphasisMode, pad: u32, clip_skip: usize) -> Conditioner {
    let tok = tokenizer(pad);
    let db = EmbeddingDb::from_embeddings(vec![emb("emb1", 3, 7.0)]);
    let ti = TiLookup::new(&db, &tok, HIDDEN, HIDDEN).unwrap();
    let options = ConditionerOptions {
        emphasis,
        clip_skip,
        ..ConditionerOptions::default()
    };
    Conditioner::new(tok, table(), Arc::new(ti), options).unwrap()
}

fn row(c: &Array2<f32>, i: usize) -> Vec<f32> {
    c.row(i).to_vec()
}

fn table_row(id: u32) -> Vec<f32> {
    table().lookup_row(id)
}

trait Row {
    fn lookup_row(&self, id: u32) -> Vec<f32>;
}

impl Row for Arc<TokenEmbeddings> {
    fn lookup_row(&self, id: u32) -> Vec<f32> {
        let mut out = Array2::zeros((1, HIDDEN));
        self.lookup_into(&[id], out.view_mut()).unwrap();
        out.row(0).to_vec()
    }
}

fn learned(
    c: &Conditioner,
    enc: &mut MockEncoder,
    prompts: &[&str],
    steps: usize,
) -> Vec<Arc<[sdgate::prompt::ScheduledCond]>> {
    let prompts: Vec<String> = prompts.iter().map(|s| s.to_string()).collect();
    c.get_learned_conditioning(enc, &prompts, ScheduleSteps::new(steps), &mut EncodeReport::default())
        .unwrap()
}

#[test]
fn short_prompt_is_one_chunk_of_token_embeddings() {
    let c = conditioner(EmphasisMode::Original, 49407, 1);
    let mut enc = MockEncoder::default();
    let out = learned(&c, &mut enc, &["a photo cat"], 20);
    assert_eq!(out[0].len(), 1);
    let cond = &out[0][0].cond;
    assert_eq!(cond.shape(), &[77, HIDDEN]);
    for (i, id) in [49406, 320, 1125, 2368, 49407, 49407].into_iter().enumerate() {
        let want = table_row(id);
        let got = row(cond, i);
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6),
            "row {i}: {got:?} vs {want:?}"
        );
    }
    assert_eq!(enc.calls, vec![1]);
}

#[test]
fn clip_skip_reaches_the_encoder() {
    let c = conditioner(EmphasisMode::Original, 49407, 2);
    let mut enc = MockEncoder::default();
    let out = learned(&c, &mut enc, &["cat"], 20);
    assert_eq!(enc.layers, vec![2]);
    assert!((out[0][0].cond[[1, 0]] - 2.0 * table_row(2368)[0]).abs() < 1e-6);
}

#[test]
fn emphasis_modes() {
    let mut enc = MockEncoder::default();
    let no_norm = learned(
        &conditioner(EmphasisMode::NoNorm, 49407, 1),
        &mut enc,
        &["a (cat:2)"],
        20,
    );
    let plain = learned(&conditioner(EmphasisMode::NoNorm, 49407, 1), &mut enc, &["a cat"], 20);
    assert!((no_norm[0][0].cond[[2, 0]] - 2.0 * plain[0][0].cond[[2, 0]]).abs() < 1e-6);
    assert_eq!(row(&no_norm[0][0].cond, 1), row(&plain[0][0].cond, 1));

    let original = learned(
        &conditioner(EmphasisMode::Original, 49407, 1),
        &mut enc,
        &["a (cat:2)"],
        20,
    );
    let before: f64 = plain[0][0].cond.iter().map(|&x| f64::from(x)).sum();
    let after: f64 = original[0][0].cond.iter().map(|&x| f64::from(x)).sum();
    assert!(
        (before - after).abs() / before < 1e-5,
        "mean not restored: {before} vs {after}"
    );

    let none = learned(&conditioner(EmphasisMode::None, 49407, 1), &mut enc, &["a (cat:2)"], 20);
    // Literal brackets: different tokens, no weights.
    assert_ne!(row(&none[0][0].cond, 2), row(&plain[0][0].cond, 2));
    let ignore = learned(
        &conditioner(EmphasisMode::Ignore, 49407, 1),
        &mut enc,
        &["a (cat:2)"],
        20,
    );
    assert_eq!(ignore[0][0].cond, plain[0][0].cond);
}

#[test]
fn textual_inversion_vectors_are_spliced() {
    let c = conditioner(EmphasisMode::NoNorm, 49407, 1);
    let mut enc = MockEncoder::default();
    let mut report = EncodeReport::default();
    let out = c
        .get_learned_conditioning(&mut enc, &["a emb1 cat".into()], ScheduleSteps::new(20), &mut report)
        .unwrap();
    let cond = &out[0][0].cond;
    for i in 2..5 {
        assert_eq!(row(cond, i), vec![7.0; HIDDEN], "row {i}");
    }
    assert_eq!(row(cond, 5), table_row(2368));
    assert_eq!(report.used_embeddings.len(), 1);
    assert_eq!(report.used_embeddings[0].name, "emb1");
}

#[test]
fn schedules_share_one_batch_and_identical_prompts_one_encoding() {
    let c = conditioner(EmphasisMode::Original, 49407, 1);
    let mut enc = MockEncoder::default();
    let out = learned(&c, &mut enc, &["a [cat:dog:3]", "a [cat:dog:3]", "[x|y]"], 4);
    assert_eq!(out[0].len(), 2);
    assert_eq!(out[0][0].end_at_step, 3);
    assert_eq!(out[0][1].end_at_step, 4);
    assert!(Arc::ptr_eq(&out[0], &out[1]));
    // One call for the first prompt (2 texts), one for [x|y] (4 steps, 2 distinct texts).
    assert_eq!(enc.calls, vec![2, 2]);
    assert_eq!(out[2].len(), 4);
    assert_eq!(out[2][0].cond, out[2][2].cond);
    assert_eq!(reconstruct_cond(&out[0], 0).unwrap(), &out[0][0].cond);
    assert_eq!(reconstruct_cond(&out[0], 3).unwrap(), &out[0][0].cond);
    assert_eq!(reconstruct_cond(&out[0], 4).unwrap(), &out[0][1].cond);
    assert_eq!(reconstruct_cond(&out[0], 99).unwrap(), &out[0][0].cond);
}

#[test]
fn long_prompts_concatenate_chunks_and_schedules_pad_with_empty_chunks() {
    let c = conditioner(EmphasisMode::Original, 49407, 1);
    let mut enc = MockEncoder::default();
    let long = "cat ".repeat(100);
    let prompt = format!("[a:{long}:2]");
    let out = learned(&c, &mut enc, &[&prompt], 4);
    assert_eq!(out[0].len(), 2);
    assert_eq!(out[0][0].cond.shape(), &[154, HIDDEN]);
    assert_eq!(out[0][1].cond.shape(), &[154, HIDDEN]);
    // Chunk 2 of the short text is the empty chunk: BOS then EOS.
    assert_eq!(row(&out[0][0].cond, 77), table_row(49406));
    assert_eq!(row(&out[0][0].cond, 78), table_row(49407));
    assert_eq!(enc.calls, vec![2, 2]);
}

#[test]
fn sd2_pads_after_the_end_token() {
    let c = conditioner(EmphasisMode::Original, 0, 1);
    let mut enc = MockEncoder::default();
    let out = learned(&c, &mut enc, &["cat"], 20);
    assert_eq!(row(&out[0][0].cond, 2), table_row(49407));
    assert_eq!(row(&out[0][0].cond, 3), table_row(0));
}

#[test]
fn composable_prompts_and_padding_helpers() {
    let c = conditioner(EmphasisMode::Original, 49407, 1);
    let mut enc = MockEncoder::default();
    let prompts = vec!["a cat AND a dog:0.5".to_string(), "a cat".to_string()];
    let multi = c
        .get_multicond_learned_conditioning(&mut enc, &prompts, ScheduleSteps::new(20), &mut EncodeReport::default())
        .unwrap();
    assert_eq!(multi.batch.len(), 2);
    assert_eq!(multi.batch[0].len(), 2);
    assert_eq!(multi.batch[0][1].weight, 0.5);
    assert!(Arc::ptr_eq(&multi.batch[0][0].schedules, &multi.batch[1][0].schedules));

    let short = learned(&c, &mut enc, &["x"], 20)[0][0].cond.clone();
    let long = learned(&c, &mut enc, &[&"cat ".repeat(100)], 20)[0][0].cond.clone();
    let empty = c.empty_prompt(&mut enc).unwrap();
    let (a, b) = pad_cond_uncond(&long, &short, &empty).unwrap();
    assert_eq!(a.shape(), b.shape());
    assert_eq!(b.index_axis(Axis(0), 80), empty.index_axis(Axis(0), 3));
    let stacked = stack_conds(&[&long, &short]).unwrap();
    assert_eq!(stacked.shape(), &[2, 154, HIDDEN]);
    assert_eq!(stacked.index_axis(Axis(0), 1).row(153), short.row(76));
}

#[test]
fn bad_prompts_are_errors_not_panics() {
    let c = conditioner(EmphasisMode::Original, 49407, 1);
    let mut enc = MockEncoder::default();
    let run = |enc: &mut MockEncoder, p: &str| {
        c.get_learned_conditioning(
            enc,
            &[p.to_string()],
            ScheduleSteps::new(20),
            &mut EncodeReport::default(),
        )
    };
    assert!(matches!(
        run(&mut enc, &"cat ".repeat(10_000)),
        Err(PromptError::TextTooLong { .. })
    ));
    assert!(matches!(
        run(&mut enc, &"cat ".repeat(5_000)),
        Err(PromptError::TooManyChunks { .. })
    ));
    assert!(run(&mut enc, "(x:1e30)").is_ok());
    assert!(matches!(
        run(&mut enc, "(x:1000000000000000000000000000000)"),
        Err(PromptError::WeightOutOfRange(_))
    ));
    assert!(matches!(run(&mut enc, "(x:1.2.3)"), Err(PromptError::InvalidWeight(_))));
    assert!(run(&mut enc, "(x:nan) \0 [[[ ((( ]]] |").is_ok());
    assert!(matches!(
        run(&mut enc, &"(".repeat(50_000)),
        Err(PromptError::TextTooLong { .. })
    ));
    assert!(matches!(
        run(&mut enc, &"[".repeat(20_000)),
        Err(PromptError::TooDeep(_))
    ));
    assert!(run(&mut enc, &"(".repeat(20_000)).is_err());
}
