//! End to end on the tiny fixture model: prompts → conditioning through the exported ONNX text
//! encoder, against the WebUI's path run with transformers' CLIPTextModel
//! (tests/fixtures/prompt/conditioning.*, made by scripts/goldens/prompt_conditioning.py).
//!
//! Runs the text encoder through sdgate's own runtime (ONNX Runtime from scripts/setup-ort).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdgate::models::ModelFolder;
use sdgate::prompt::ti::{EmbeddingDb, TiLookup, load_embedding_file};
use sdgate::prompt::{
    ClipTokenizer, Conditioner, ConditionerOptions, EmphasisMode, EncodeReport, ScheduleSteps, TokenEmbeddings,
};
use sdgate::runtime::{Engine, ProviderOptions};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tiny model's text encoder through sdgate's runtime (the engine implements `TextEncoder`).
fn setup() -> (PathBuf, Engine) {
    sdgate::runtime::library::load(None).expect("ONNX Runtime: run scripts/setup-ort first");
    let model = root().join("tests/fixtures/tiny-sd1/model");
    let engine = Engine::load(ModelFolder::open(&model).unwrap(), &ProviderOptions::default()).unwrap();
    (model, engine)
}

fn golden(key: &str, tensors: &safetensors::SafeTensors<'_>) -> (Vec<usize>, Vec<f32>) {
    let t = tensors.tensor(key).unwrap();
    let data = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), data)
}

fn conditioner(model: &Path, emphasis: EmphasisMode, clip_skip: usize) -> Conditioner {
    let tok = Arc::new(ClipTokenizer::from_file(&model.join("tokenizer/tokenizer.json"), 49406, 49407, 49407).unwrap());
    let table = Arc::new(
        TokenEmbeddings::from_safetensors_file(&model.join("text_encoder/token_embedding.safetensors")).unwrap(),
    );
    let emb = load_embedding_file(&root().join("tests/fixtures/prompt/conditioning/tinyemb.safetensors"))
        .unwrap()
        .unwrap();
    let db = EmbeddingDb::from_embeddings(vec![emb]);
    let hidden = table.hidden_size();
    let ti = TiLookup::new(&db, &tok, hidden, hidden).unwrap();
    let options = ConditionerOptions {
        emphasis,
        clip_skip,
        ..ConditionerOptions::default()
    };
    Conditioner::new(tok, table, Arc::new(ti), options).unwrap()
}

#[test]
fn conditioning_matches_the_webui_on_the_tiny_model() {
    let (model, mut encoder) = setup();
    let dir = root().join("tests/fixtures/prompt");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("conditioning.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("conditioning.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for (i, case) in cases["cases"].as_array().unwrap().iter().enumerate() {
        let prompt = case["prompt"].as_str().unwrap().to_owned();
        let emphasis = EmphasisMode::from_name(case["emphasis"].as_str().unwrap());
        let c = conditioner(&model, emphasis, case["clip_skip"].as_u64().unwrap() as usize);
        let steps = ScheduleSteps::new(case["steps"].as_u64().unwrap() as usize);
        let mut report = EncodeReport::default();
        let parts: Vec<(f64, Arc<[sdgate::prompt::ScheduledCond]>)> = if case["composable"].as_bool().unwrap() {
            let m = c
                .get_multicond_learned_conditioning(&mut encoder, std::slice::from_ref(&prompt), steps, &mut report)
                .unwrap();
            m.batch[0].iter().map(|p| (p.weight, p.schedules.clone())).collect()
        } else {
            let l = c
                .get_learned_conditioning(&mut encoder, std::slice::from_ref(&prompt), steps, &mut report)
                .unwrap();
            vec![(1.0, l[0].clone())]
        };
        let want_parts = case["parts"].as_array().unwrap();
        assert_eq!(parts.len(), want_parts.len(), "case {i} {prompt:?}");
        for (k, ((weight, schedule), want)) in parts.iter().zip(want_parts).enumerate() {
            assert!((weight - want["weight"].as_f64().unwrap()).abs() < 1e-12);
            let ends: Vec<u64> = schedule.iter().map(|s| s.end_at_step as u64).collect();
            let want_ends: Vec<u64> = want["end_at_steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(ends, want_ends, "case {i} {prompt:?}");
            for (j, entry) in schedule.iter().enumerate() {
                let (shape, data) = golden(&format!("case{i}/part{k}/sched{j}"), &tensors);
                assert_eq!(entry.cond.shape(), shape.as_slice(), "case {i} {prompt:?} sched {j}");
                let max = entry
                    .cond
                    .iter()
                    .zip(&data)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    max < 2e-4,
                    "case {i} {prompt:?} part {k} sched {j}: max difference {max}"
                );
            }
        }
        if prompt.contains("tinyemb") {
            assert_eq!(report.used_embeddings.len(), 1, "case {i}");
        }
    }
}
