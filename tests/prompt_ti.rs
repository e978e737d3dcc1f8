//! Textual-inversion files in every format (tests/fixtures/prompt/ti, made by
//! scripts/goldens/prompt_ti.py): values equal to what torch loads, bad files refused cleanly.

use std::path::PathBuf;

use sdgate::prompt::ti::{EmbeddingDb, EmbeddingVectors, TiError, load_embedding_file, ti_hashes_infotext};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prompt/ti")
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn expected_vectors(key: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(dir().join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st
        .tensor(key)
        .unwrap_or_else(|_| panic!("{key} missing from expected.safetensors"));
    let data = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), data)
}

fn path_of(name: &str) -> PathBuf {
    if name.starts_with("bad/") {
        dir().join(name)
    } else {
        dir().join("embeddings").join(name)
    }
}

#[test]
fn every_file_loads_as_expected() {
    for (file, want) in expected() {
        let path = path_of(&file);
        let got = load_embedding_file(&path);
        match want["outcome"].as_str().unwrap() {
            "loaded" | "duplicate" => {
                let e = got
                    .unwrap_or_else(|err| panic!("{file}: {err}"))
                    .unwrap_or_else(|| panic!("{file}: ignored"));
                assert_eq!(e.sha256, want["sha256"].as_str().unwrap(), "{file}");
                if want["outcome"] == "duplicate" {
                    continue;
                }
                assert_eq!(e.name, want["name"].as_str().unwrap(), "{file}");
                assert_eq!(e.shape() as u64, want["shape"].as_u64().unwrap(), "{file}");
                assert_eq!(e.num_vectors() as u64, want["vectors"].as_u64().unwrap(), "{file}");
                assert_eq!(e.step, want["step"].as_i64(), "{file}");
                assert_eq!(e.sd_checkpoint.as_deref(), want["sd_checkpoint"].as_str(), "{file}");
                assert_eq!(
                    e.sd_checkpoint_name.as_deref(),
                    want["sd_checkpoint_name"].as_str(),
                    "{file}"
                );
                let parts: Vec<(String, &ndarray::Array2<f32>)> = match &e.vectors {
                    EmbeddingVectors::Single(v) => vec![(file.clone(), v)],
                    EmbeddingVectors::Sdxl { clip_l, clip_g } => {
                        vec![(format!("{file}/clip_l"), clip_l), (format!("{file}/clip_g"), clip_g)]
                    }
                };
                for (key, v) in parts {
                    let (shape, data) = expected_vectors(&key);
                    assert_eq!(v.shape(), shape.as_slice(), "{key}");
                    let got: Vec<f32> = v.iter().copied().collect();
                    assert!(got == data, "{key}: values differ from torch's");
                }
            }
            "ignored" => assert!(matches!(got, Ok(None)), "{file}: {got:?}"),
            "forbidden" => assert!(matches!(got, Err(TiError::Forbidden(_))), "{file}: {got:?}"),
            "error" => {
                let err = got.expect_err(&file);
                assert!(!err.to_string().is_empty());
            }
            other => panic!("unknown outcome {other}"),
        }
    }
    assert!(!std::path::Path::new("/tmp/sdgate-pwned").exists());
}

#[test]
fn scanning_the_folder() {
    let db = EmbeddingDb::scan(&dir().join("embeddings")).unwrap();
    let names: Vec<&str> = db.embeddings().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "concept",
            "in-the-pixels",
            "legacy_f32",
            "paramdict",
            "pictured",
            "sdxl",
            "strided",
            "wide",
            "zip_bf16",
            "zip_f16",
            "zip_f32"
        ]
    );
    assert_eq!(db.failed().len(), 1, "{:?}", db.failed());
    assert!(db.failed()[0].reason.contains("already taken"));
    let (loaded, skipped) = db.partition(768);
    assert_eq!(loaded.len(), 9);
    let skipped: Vec<&str> = skipped.iter().map(|(e, _)| e.name.as_str()).collect();
    assert_eq!(skipped, vec!["sdxl", "wide"]);
    let (loaded_xl, _) = db.partition(2048);
    assert_eq!(loaded_xl.len(), 1);
    let again = db.refresh().unwrap();
    assert_eq!(again.embeddings().len(), db.embeddings().len());
    let hashes = ti_hashes_infotext(&loaded[..2]).unwrap();
    assert_eq!(
        hashes,
        format!(
            "concept: {}, in-the-pixels: {}",
            &loaded[0].sha256[..12],
            &loaded[1].sha256[..12]
        )
    );
    assert!(
        EmbeddingDb::scan(&dir().join("missing-folder"))
            .unwrap()
            .embeddings()
            .is_empty()
    );
}
