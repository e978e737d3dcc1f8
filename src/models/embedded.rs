//! The tiny fixture model, embedded in the binary so `sdgate serve` works with no model given.
//! It is written out to `<data-dir>/models/tiny-sd1/` on start (only files whose bytes differ).

use std::path::{Path, PathBuf};

use super::{ModelError, ModelFolder};

macro_rules! fixture {
    ($rel:literal) => {
        (
            $rel,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/tiny-sd1/model/",
                $rel
            )) as &[u8],
        )
    };
}

/// (relative path, bytes) of every file of the embedded model folder.
pub const FILES: &[(&str, &[u8])] = &[
    fixture!("model.json"),
    fixture!("tokenizer/tokenizer.json"),
    fixture!("text_encoder/model.onnx"),
    fixture!("text_encoder/token_embedding.safetensors"),
    fixture!("unet/model.onnx"),
    fixture!("vae_encoder/model.onnx"),
    fixture!("vae_decoder/model.onnx"),
];

pub const NAME: &str = "tiny-sd1";

/// Write the embedded model under `data_dir/models/tiny-sd1` and open it.
pub fn extract(data_dir: &Path) -> Result<ModelFolder, ModelError> {
    let root: PathBuf = data_dir.join("models").join(NAME);
    for (rel, bytes) in FILES {
        let path = root.join(rel);
        if std::fs::read(&path).is_ok_and(|have| have == *bytes) {
            continue;
        }
        let io = |source| ModelError::Io {
            folder: root.clone(),
            file: (*rel).to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
    }
    ModelFolder::open(&root)
}

#[cfg(test)]
mod tests {
    #[test]
    fn extracts_a_valid_folder_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let a = super::extract(tmp.path()).unwrap();
        assert_eq!(a.manifest.name, "tiny-sd1");
        let b = super::extract(tmp.path()).unwrap();
        assert_eq!(a.root, b.root);
    }
}
