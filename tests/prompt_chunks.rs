//! Chunking against the WebUI's tokenize_line (tests/fixtures/prompt/chunks.json, made by
//! scripts/goldens/prompt_chunks.py), with the tiny fixture's tokenizer.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;
use sdgate::prompt::chunks::{ChunkOptions, MAX_CHUNKS, tokenize_line};
use sdgate::prompt::ti::{Embedding, EmbeddingDb, EmbeddingVectors, TiLookup};
use sdgate::prompt::{ClipTokenizer, EmphasisMode};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tokenizer() -> ClipTokenizer {
    ClipTokenizer::from_file(
        &root().join("tests/fixtures/tiny-sd1/model/tokenizer/tokenizer.json"),
        49406,
        49407,
        49407,
    )
    .unwrap()
}

fn lookup(tok: &ClipTokenizer, embeddings: &serde_json::Map<String, Value>) -> TiLookup {
    let list = embeddings
        .iter()
        .map(|(name, n)| Embedding {
            name: name.clone(),
            vectors: EmbeddingVectors::Single(Array2::zeros((n.as_u64().unwrap() as usize, 768))),
            step: None,
            sd_checkpoint: None,
            sd_checkpoint_name: None,
            path: PathBuf::new(),
            sha256: String::new(),
        })
        .collect();
    TiLookup::new(&EmbeddingDb::from_embeddings(list), tok, 768, 768).unwrap()
}

#[test]
fn chunks_match_the_webui() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/prompt/chunks.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let tok = tokenizer();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let ti = Arc::new(lookup(&tok, case["embeddings"].as_object().unwrap()));
        let opts = ChunkOptions {
            comma_padding_backtrack: case["comma_padding_backtrack"].as_u64().unwrap() as usize,
            emphasis: EmphasisMode::from_name(case["emphasis"].as_str().unwrap()),
            max_chunks: MAX_CHUNKS,
        };
        let (chunks, count) = tokenize_line(prompt, &tok, &ti, opts).unwrap();
        let want = case["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), want.len(), "{prompt:?}: chunk count");
        assert_eq!(
            count as u64,
            case["token_count"].as_u64().unwrap(),
            "{prompt:?}: token count"
        );
        for (c, w) in chunks.iter().zip(want) {
            let tokens: Vec<u32> = w["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(c.tokens, tokens, "{prompt:?}: tokens");
            let mults: Vec<f64> = w["multipliers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| std::iter::repeat_n(r[0].as_f64().unwrap(), r[1].as_u64().unwrap() as usize))
                .collect();
            assert_eq!(c.multipliers.len(), mults.len(), "{prompt:?}");
            for (a, b) in c.multipliers.iter().zip(&mults) {
                assert!((a - b).abs() < 1e-9, "{prompt:?}: multiplier {a} vs {b}");
            }
            if !case["webui_misplaced_fix"].as_bool().unwrap() {
                let fixes: Vec<(u64, String)> = c
                    .fixes
                    .iter()
                    .map(|f| (f.offset as u64, f.embedding.name.clone()))
                    .collect();
                let want_fixes: Vec<(u64, String)> = w["fixes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| (f[0].as_u64().unwrap(), f[1].as_str().unwrap().to_owned()))
                    .collect();
                assert_eq!(fixes, want_fixes, "{prompt:?}: fixes");
            }
            // Every fix points at placeholder tokens, here (even where the WebUI's does not).
            for f in &c.fixes {
                assert_eq!(c.tokens[f.offset + 1], 0, "{prompt:?}: fix on a real token");
            }
        }
        checked += 1;
    }
    assert!(checked > 50);
}

#[test]
fn refuses_ten_thousand_tokens() {
    let tok = tokenizer();
    let prompt = "cat ".repeat(5000);
    let err = tokenize_line(&prompt, &tok, &TiLookup::empty(), ChunkOptions::default()).unwrap_err();
    assert!(err.to_string().contains("chunks"), "{err}");
    let prompt = "cat ".repeat(10_000);
    assert!(tokenize_line(&prompt, &tok, &TiLookup::empty(), ChunkOptions::default()).is_err());
}

#[test]
fn known_token_ids() {
    let tok = tokenizer();
    assert_eq!(tok.encode("a photo cat").unwrap(), vec![320, 1125, 2368]);
    assert_eq!(tok.comma(), Some(267));
    assert_eq!(tok.encode("").unwrap(), Vec::<u32>::new());
    assert_eq!(tok.encode("A  PHOTO\0").unwrap(), vec![320, 1125]);
}
