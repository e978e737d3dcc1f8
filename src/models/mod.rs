//! Model folders: the manifest, the files it names, the checkpoint registry.

pub mod embedded;
pub mod manifest;
pub mod registry;

use std::path::{Path, PathBuf};

pub use manifest::{Family, Manifest, Precision, PredictionType};
pub use registry::{ModelEntry, ModelRegistry, ModelSources};

/// Errors of the model layer. Each names the problem and the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model folder {0} does not exist or is not a folder")]
    NotAFolder(PathBuf),
    #[error("model folder {folder}: missing {file}")]
    MissingFile { folder: PathBuf, file: String },
    #[error("invalid model.json: {0}")]
    Manifest(String),
    #[error("unknown model {wanted:?}; known models: {known}")]
    UnknownModel { wanted: String, known: String },
    #[error("model folder {folder}: cannot read {file}: {source}")]
    Io {
        folder: PathBuf,
        file: String,
        source: std::io::Error,
    },
}

/// A model folder whose manifest has been read and checked and whose files exist.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    pub root: PathBuf,
    pub manifest: Manifest,
}

impl ModelFolder {
    pub const MANIFEST: &'static str = "model.json";

    /// Open and check a model folder: the manifest parses and every file it names is present.
    pub fn open(root: &Path) -> Result<Self, ModelError> {
        if !root.is_dir() {
            return Err(ModelError::NotAFolder(root.to_path_buf()));
        }
        let manifest_path = root.join(Self::MANIFEST);
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModelError::MissingFile {
                    folder: root.to_path_buf(),
                    file: Self::MANIFEST.into(),
                }
            } else {
                ModelError::Io {
                    folder: root.to_path_buf(),
                    file: Self::MANIFEST.into(),
                    source,
                }
            }
        })?;
        let manifest = Manifest::parse(&text)?;
        for file in manifest.relative_paths() {
            if !root.join(file).is_file() {
                return Err(ModelError::MissingFile {
                    folder: root.to_path_buf(),
                    file: file.into(),
                });
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Absolute path of a file named in the manifest.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}
