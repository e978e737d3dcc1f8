//! The models a server can run: the folders found at start-up and on refresh, and the current default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{ModelError, ModelFolder};

/// One entry of /sdapi/v1/sd-models.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub folder: Arc<ModelFolder>,
}

impl ModelEntry {
    pub fn name(&self) -> &str {
        &self.folder.manifest.name
    }

    /// The WebUI's title: "name [short hash]" (just "name" without a hash).
    pub fn title(&self) -> String {
        match &self.folder.manifest.source.short_hash {
            Some(h) => format!("{} [{h}]", self.name()),
            None => self.name().to_string(),
        }
    }

    /// Does a client's checkpoint string name this model? The WebUI accepts the title, the name,
    /// the file name and the short hash.
    pub fn matches(&self, wanted: &str) -> bool {
        let m = &self.folder.manifest;
        wanted == self.title()
            || wanted == m.name
            || wanted == m.source.file_name
            || m.source.short_hash.as_deref() == Some(wanted)
            || Path::new(&m.source.file_name).file_stem().and_then(|s| s.to_str()) == Some(wanted)
    }
}

/// Where models come from.
#[derive(Debug, Clone, Default)]
pub struct ModelSources {
    /// Explicit model folders (--model-dir / MODEL_DIR); the first is the default.
    pub folders: Vec<PathBuf>,
    /// A folder whose sub-folders are model folders (--ckpt-dir).
    pub ckpt_dir: Option<PathBuf>,
}

pub struct ModelRegistry {
    sources: ModelSources,
    models: RwLock<Vec<ModelEntry>>,
    current: RwLock<Option<ModelEntry>>,
    /// Problems found on the last scan (a broken folder in --ckpt-dir is reported, not fatal).
    skipped: RwLock<Vec<String>>,
}

impl ModelRegistry {
    /// Scan the sources; explicit folders must open, broken ones under --ckpt-dir are skipped.
    pub fn new(sources: ModelSources) -> Result<Self, ModelError> {
        let reg = Self {
            sources,
            models: RwLock::new(vec![]),
            current: RwLock::new(None),
            skipped: RwLock::new(vec![]),
        };
        reg.refresh()?;
        let first = reg.models.read().first().cloned();
        *reg.current.write() = first;
        Ok(reg)
    }

    /// Rescan the sources (refresh-checkpoints). The current model stays if it still exists.
    pub fn refresh(&self) -> Result<(), ModelError> {
        let mut found = Vec::new();
        for dir in &self.sources.folders {
            found.push(ModelEntry {
                folder: Arc::new(ModelFolder::open(dir)?),
            });
        }
        let mut skipped = Vec::new();
        if let Some(root) = &self.sources.ckpt_dir {
            let mut dirs: Vec<PathBuf> = match std::fs::read_dir(root) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect(),
                Err(e) => {
                    skipped.push(format!("{}: {e}", root.display()));
                    vec![]
                }
            };
            dirs.sort();
            for dir in dirs {
                if !dir.join(ModelFolder::MANIFEST).exists() {
                    continue;
                }
                match ModelFolder::open(&dir) {
                    Ok(f) => found.push(ModelEntry { folder: Arc::new(f) }),
                    Err(e) => skipped.push(e.to_string()),
                }
            }
        }
        // One entry per name: an explicit folder wins over a scanned one.
        let mut seen = std::collections::HashSet::new();
        found.retain(|e| seen.insert(e.name().to_string()));
        for s in &skipped {
            tracing::warn!("model skipped: {s}");
        }
        *self.models.write() = found;
        *self.skipped.write() = skipped;
        Ok(())
    }

    pub fn list(&self) -> Vec<ModelEntry> {
        self.models.read().clone()
    }

    pub fn skipped(&self) -> Vec<String> {
        self.skipped.read().clone()
    }

    pub fn find(&self, wanted: &str) -> Option<ModelEntry> {
        self.models.read().iter().find(|e| e.matches(wanted)).cloned()
    }

    pub fn current(&self) -> Option<ModelEntry> {
        self.current.read().clone()
    }

    /// Make `wanted` the default for jobs accepted from now on. Jobs already accepted keep the
    /// model they were accepted with, so a switch never races a running job.
    pub fn set_current(&self, wanted: &str) -> Result<ModelEntry, ModelError> {
        let entry = self.find(wanted).ok_or_else(|| ModelError::UnknownModel {
            wanted: wanted.to_string(),
            known: self.list().iter().map(|e| e.title()).collect::<Vec<_>>().join(", "),
        })?;
        *self.current.write() = Some(entry.clone());
        Ok(entry)
    }
}
