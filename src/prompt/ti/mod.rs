//! Textual-inversion embeddings: loading the files of an embeddings folder safely, and finding their
//! trigger words in token streams.
//!
//! Files (the folder is walked recursively, as the WebUI's `os.walk`, but symlinked folders are not
//! followed): `.safetensors`; `.pt` / `.bin` through a restricted pickle reader that only builds
//! tensors and plain data (see [`pickle`]); `.png` / `.webp` (`sd-ti-embedding` text chunk, or the
//! data hidden in the pixels); `*.preview.png` pictures and empty files are ignored. The trigger word
//! is the file name without extension (for images, the `name` stored inside wins, as in the WebUI).
//! The hash is SHA-256 of the whole file; the infotext's "TI hashes" use its first 12 hex digits.

mod image;
mod layout;
pub mod pickle;
mod torch_file;
mod value;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use layout::EmbeddingVectors;
pub use value::{Tensor, Value};

use super::PromptError;
use super::tokenizer::ClipTokenizer;

/// Why an embedding file could not be read.
#[derive(Debug, Error)]
pub enum TiError {
    #[error("{0}")]
    Io(String),
    #[error("the file names {0}, which is not allowed in an embedding file (refused, nothing was run)")]
    Forbidden(String),
    #[error("bad pickle: {0}")]
    Pickle(String),
    #[error("{0}")]
    Format(String),
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
}

/// Largest embedding file read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most files looked at in one scan, and the deepest sub-folder.
const MAX_FILES: usize = 10_000;
const MAX_DEPTH: usize = 8;
/// An embedding longer than one chunk cannot be placed (the WebUI breaks on it too).
pub const MAX_VECTORS: usize = 75;

/// A trigger word's token ids and its embedding.
type Trigger = (Vec<u32>, Arc<Embedding>);
/// An embedding that cannot be used with a model, and why.
pub type Skipped = (Arc<Embedding>, String);

/// One loaded embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The trigger word.
    pub name: String,
    pub vectors: EmbeddingVectors,
    pub step: Option<i64>,
    pub sd_checkpoint: Option<String>,
    pub sd_checkpoint_name: Option<String>,
    pub path: PathBuf,
    /// SHA-256 of the file, 64 hex digits.
    pub sha256: String,
}

impl Embedding {
    /// The WebUI's `shorthash`: the first 12 hex digits of the file's SHA-256.
    pub fn shorthash(&self) -> &str {
        &self.sha256[..12.min(self.sha256.len())]
    }

    /// Vector width (both encoders' widths added for SDXL).
    pub fn shape(&self) -> usize {
        self.vectors.shape()
    }

    /// Number of tokens the embedding occupies.
    pub fn num_vectors(&self) -> usize {
        self.vectors.vectors()
    }
}

/// Read one file. `Ok(None)`: not an embedding (another extension, a preview picture, an image
/// without embedded data, an empty file).
pub fn load_embedding_file(path: &Path) -> Result<Option<Embedding>, TiError> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((s, e)) => (s, e.to_ascii_lowercase()),
        None => return Ok(None),
    };
    let is_image = matches!(ext.as_str(), "png" | "webp");
    if !matches!(ext.as_str(), "pt" | "bin" | "safetensors") && !is_image {
        return Ok(None);
    }
    if is_image && stem.to_ascii_lowercase().ends_with(".preview") {
        return Ok(None);
    }
    let meta = std::fs::metadata(path).map_err(|e| TiError::Io(e.to_string()))?;
    if meta.len() == 0 {
        return Ok(None);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(TiError::TooLarge(MAX_FILE_BYTES));
    }
    let bytes = std::fs::read(path).map_err(|e| TiError::Io(e.to_string()))?;
    let data = match ext.as_str() {
        "safetensors" => read_safetensors(&bytes)?,
        "pt" | "bin" => torch_file::read_torch(&bytes)?,
        _ => match image::read_image_embedding(&bytes)? {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    let parsed = layout::parse(&data)?;
    let name = match (&parsed.name, is_image) {
        (Some(n), true) => n.clone(),
        _ => stem.to_owned(),
    };
    Ok(Some(Embedding {
        name,
        vectors: parsed.vectors,
        step: parsed.step,
        sd_checkpoint: parsed.sd_checkpoint,
        sd_checkpoint_name: parsed.sd_checkpoint_name,
        path: path.to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    }))
}

fn read_safetensors(bytes: &[u8]) -> Result<Value, TiError> {
    use safetensors::Dtype as D;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| TiError::Format(format!("safetensors: {e}")))?;
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pairs = Vec::with_capacity(tensors.len());
    for (name, view) in tensors {
        let dtype = match view.dtype() {
            D::F32 => pickle::Dtype::F32,
            D::F16 => pickle::Dtype::F16,
            D::BF16 => pickle::Dtype::BF16,
            D::F64 => pickle::Dtype::F64,
            other => return Err(TiError::Format(format!("tensor {name} has dtype {other:?}"))),
        };
        let es = dtype.size();
        let data = view
            .data()
            .chunks_exact(es)
            .map(|b| value::read_element(b, dtype))
            .collect();
        let tensor = Tensor {
            shape: view.shape().to_vec(),
            data,
        };
        pairs.push((Value::Str(name), Value::Tensor(tensor)));
    }
    Ok(Value::Dict(pairs))
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// Everything found in an embeddings folder. Immutable: a refresh builds a new one.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingDb {
    dir: Option<PathBuf>,
    /// Sorted by lower-case name, as the WebUI lists them.
    embeddings: Vec<Arc<Embedding>>,
    failed: Vec<LoadFailure>,
}

impl EmbeddingDb {
    /// A database with no embeddings.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A database of embeddings loaded elsewhere (tests, or files handed over by the caller).
    pub fn from_embeddings(embeddings: Vec<Embedding>) -> Self {
        let mut embeddings: Vec<Arc<Embedding>> = embeddings.into_iter().map(Arc::new).collect();
        embeddings.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.name.cmp(&b.name))
        });
        Self {
            dir: None,
            embeddings,
            failed: Vec::new(),
        }
    }

    /// Scan `dir` (a missing folder gives an empty database). Files that fail are listed in
    /// [`failed`](Self::failed); only an unreadable folder is an error.
    pub fn scan(dir: &Path) -> Result<Self, TiError> {
        let mut files = Vec::new();
        if dir.is_dir() {
            walk(dir, 0, &mut files)?;
        }
        files.sort();
        let mut db = Self {
            dir: Some(dir.to_owned()),
            ..Self::default()
        };
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for path in files {
            match load_embedding_file(&path) {
                Ok(None) => {}
                Ok(Some(e)) => {
                    if let Some(first) = seen.get(&e.name) {
                        db.failed.push(LoadFailure {
                            reason: format!("the name {:?} is already taken by {}", e.name, first.display()),
                            path,
                        });
                        continue;
                    }
                    seen.insert(e.name.clone(), path);
                    db.embeddings.push(Arc::new(e));
                }
                Err(e) => db.failed.push(LoadFailure {
                    path,
                    reason: e.to_string(),
                }),
            }
        }
        db.embeddings.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.name.cmp(&b.name))
        });
        Ok(db)
    }

    /// Scan the same folder again (the WebUI's refresh-embeddings).
    pub fn refresh(&self) -> Result<Self, TiError> {
        match &self.dir {
            Some(d) => Self::scan(d),
            None => Ok(Self::empty()),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn embeddings(&self) -> &[Arc<Embedding>] {
        &self.embeddings
    }

    pub fn failed(&self) -> &[LoadFailure] {
        &self.failed
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Embedding>> {
        self.embeddings.iter().find(|e| e.name == name)
    }

    /// Why an embedding cannot be used with a model whose embeddings are `expected_shape` wide
    /// (768 for SD 1.x, 1024 for SD 2.x, 2048 for SDXL's two encoders), or None if it can: the
    /// WebUI's "skipped" list.
    pub fn skip_reason(e: &Embedding, expected_shape: usize) -> Option<String> {
        if e.shape() != expected_shape {
            return Some(format!(
                "its vectors are {} wide, the model needs {expected_shape}",
                e.shape()
            ));
        }
        if e.num_vectors() > MAX_VECTORS {
            return Some(format!(
                "it has {} vectors, more than the {MAX_VECTORS} of one chunk",
                e.num_vectors()
            ));
        }
        None
    }

    /// (loaded, skipped with the reason) for a model of `expected_shape`.
    pub fn partition(&self, expected_shape: usize) -> (Vec<Arc<Embedding>>, Vec<Skipped>) {
        let mut loaded = Vec::new();
        let mut skipped = Vec::new();
        for e in &self.embeddings {
            match Self::skip_reason(e, expected_shape) {
                None => loaded.push(e.clone()),
                Some(r) => skipped.push((e.clone(), r)),
            }
        }
        (loaded, skipped)
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), TiError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TiError::Io(format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        if out.len() >= MAX_FILES {
            return Ok(());
        }
        let Ok(ft) = entry.file_type() else { continue };
        let path = entry.path();
        if ft.is_dir() {
            if depth < MAX_DEPTH {
                walk(&path, depth + 1, out)?;
            }
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// Trigger words as token sequences, for one tokenizer and model width: the WebUI's `ids_lookup`.
#[derive(Debug, Clone, Default)]
pub struct TiLookup {
    by_first: HashMap<u32, Vec<Trigger>>,
    hidden: usize,
}

impl TiLookup {
    /// No embeddings.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Register every embedding of `db` that fits `expected_shape`; `hidden` is the width of the
    /// encoder being fed (the same as `expected_shape` except for SDXL).
    pub fn new(
        db: &EmbeddingDb,
        tokenizer: &ClipTokenizer,
        expected_shape: usize,
        hidden: usize,
    ) -> Result<Self, PromptError> {
        let mut by_first: HashMap<u32, Vec<Trigger>> = HashMap::new();
        for e in db.partition(expected_shape).0 {
            if e.vectors.for_width(hidden).is_none() {
                continue;
            }
            let ids = tokenizer.encode(&e.name)?;
            let Some(&first) = ids.first() else { continue };
            let list = by_first.entry(first).or_default();
            list.push((ids, e));
            // Longest first; equal lengths keep registration (name) order, as Python's stable sort.
            list.sort_by_key(|(ids, _)| std::cmp::Reverse(ids.len()));
        }
        Ok(Self { by_first, hidden })
    }

    pub fn is_empty(&self) -> bool {
        self.by_first.is_empty()
    }

    /// The encoder width the vectors are for.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The WebUI's `find_embedding_at_position`: the embedding whose trigger tokens start at
    /// `tokens[offset]`, and how many tokens the trigger word takes.
    pub fn find_at(&self, tokens: &[u32], offset: usize) -> Option<(&Arc<Embedding>, usize)> {
        let candidates = self.by_first.get(tokens.get(offset)?)?;
        candidates
            .iter()
            .find(|(ids, _)| tokens[offset..].starts_with(ids))
            .map(|(ids, e)| (e, ids.len()))
    }
}

/// The infotext's "TI hashes" value for the embeddings a generation used (in order of use):
/// `name: shorthash, ...` with `:` and `,` removed from names; None when there are none.
pub fn ti_hashes_infotext(used: &[Arc<Embedding>]) -> Option<String> {
    let parts: Vec<String> = used
        .iter()
        .filter(|e| !e.sha256.is_empty())
        .map(|e| format!("{}: {}", e.name.replace([':', ','], ""), e.shorthash()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}
