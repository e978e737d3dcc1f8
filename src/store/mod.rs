//! store: the output store and its index — what the gallery reads.
//!
//! - Files: every generated image is written as the WebUI lays out its outputs folder,
//!   `<outputs>/txt2img-images/YYYY-MM-DD/NNNNN-<seed>.png` (img2img in `img2img-images`; NNNNN one
//!   more than the highest number in the folder), atomically (atomic.rs), with the infotext in the
//!   "parameters" chunk as the pipeline made it and sdgate's job id and time in an "sdgate" chunk
//!   (pngtag.rs). Grids are not written.
//! - Index: SQLite at `<data>/gallery.sqlite` (all SQL in sql.rs), one row per image, rebuilt from the
//!   files when missing, damaged or of another schema, and reconciled with the folder at start and on
//!   demand (scan.rs).
//! - Writes (saves, deletes, reconciles) go through one thread with one connection (writer.rs);
//!   reads use a read-only connection and are blocking calls: from async code, call them inside
//!   `web::block` / `spawn_blocking`.
//! - Files are reached by id only; a path from the index is checked again before it is opened
//!   (no `..`, no symbolic link, inside the outputs folder).
//! - Thumbnails are cached under `<data>/thumbs/` (thumbs.rs).

mod atomic;
mod error;
pub mod layout;
mod pngtag;
mod row;
mod scan;
pub mod sink;
mod sql;
mod thumbs;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::oneshot;

pub use error::StoreError;
pub use layout::ImageKind;
pub use row::{FileStat, ImageRow};
pub use scan::ReconcileReport;
pub use sink::StoreSink;
pub use sql::{FacetCount, Facets, ImageQuery};
pub use thumbs::Thumbs;
pub use writer::{SaveImage, SaveJob};

use writer::{Command, Writer};

/// Which finished jobs are saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SavePolicy {
    /// Every generated image (sdgate's default: the gallery shows everything).
    #[default]
    Always,
    /// Only jobs whose request set `save_images: true` (the WebUI's API behaviour; `--no-save`).
    OnRequest,
}

/// Where the store keeps things.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub outputs_dir: PathBuf,
    pub index_path: PathBuf,
    pub thumbs_dir: PathBuf,
    /// Longest side of a thumbnail.
    pub thumb_size: u32,
    pub policy: SavePolicy,
}

impl StoreConfig {
    /// The index and thumbnails under `data_dir`, the images under `outputs_dir`.
    pub fn new(data_dir: &Path, outputs_dir: &Path) -> Self {
        StoreConfig {
            outputs_dir: outputs_dir.to_path_buf(),
            index_path: data_dir.join("gallery.sqlite"),
            thumbs_dir: data_dir.join("thumbs"),
            thumb_size: 256,
            policy: SavePolicy::Always,
        }
    }
}

/// The outputs folder, and the checks a path from the index passes before it is opened.
#[derive(Debug, Clone)]
pub struct OutputsRoot {
    path: PathBuf,
    canonical: PathBuf,
}

impl OutputsRoot {
    fn new(path: &Path) -> Result<Self, StoreError> {
        atomic::create_dirs(path)?;
        let canonical = path
            .canonicalize()
            .map_err(StoreError::io("resolving the outputs folder", path))?;
        Ok(OutputsRoot {
            path: path.to_path_buf(),
            canonical,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file of a relative path, when it is a plain file (not a symbolic link) that really lies
    /// inside the outputs folder (no `..`, no absolute path, no folder link leading out).
    pub fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let joined = self.path.join(layout::checked_relative(rel)?);
        let meta = std::fs::symlink_metadata(&joined).ok()?;
        if !meta.file_type().is_file() {
            return None;
        }
        let real = joined.canonicalize().ok()?;
        real.starts_with(&self.canonical).then_some(real)
    }
}

/// A page of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePage {
    pub images: Vec<ImageRow>,
    pub total: i64,
}

/// The output store: saving, listing, serving and deleting images.
pub struct GalleryStore {
    root: OutputsRoot,
    thumbs: Thumbs,
    policy: SavePolicy,
    reader: Mutex<Connection>,
    tx: Option<crossbeam_channel::Sender<Command>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for GalleryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GalleryStore")
            .field("outputs", &self.root.path)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Open the index, moving a damaged one aside.
fn open_index(path: &Path) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        atomic::create_dirs(parent)?;
    }
    match sql::open_rw(path) {
        Ok(conn) if sql::is_healthy(&conn) => return Ok(conn),
        Ok(conn) => drop(conn),
        Err(e) if !path.exists() => return Err(e),
        Err(_) => {}
    }
    let aside = path.with_extension(format!("sqlite.broken-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")));
    tracing::warn!(
        "the gallery index {} is damaged: moved to {} and rebuilt from the images",
        path.display(),
        aside.display()
    );
    std::fs::rename(path, &aside).map_err(StoreError::io("moving aside", path))?;
    for ext in ["sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    sql::open_rw(path)
}

impl GalleryStore {
    /// Open (creating) the store: the folders, the index (rebuilt from the images when missing or
    /// stale), and the writer thread. Blocking.
    pub fn open(config: StoreConfig) -> Result<Arc<Self>, StoreError> {
        let root = OutputsRoot::new(&config.outputs_dir)?;
        let thumbs = Thumbs::new(config.thumbs_dir.clone(), config.thumb_size);
        atomic::create_dirs(thumbs.dir())?;
        let mut conn = open_index(&config.index_path)?;
        let fresh = sql::ensure_schema(&conn)?;
        let report = scan::reconcile(&mut conn, root.path(), &thumbs)?;
        tracing::info!(
            "gallery: {} images in {} ({}index: {} added, {} updated, {} removed)",
            sql::count(&conn)?,
            root.path().display(),
            if fresh { "new " } else { "" },
            report.added,
            report.updated,
            report.removed
        );
        let reader = sql::open_ro(&config.index_path)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            conn,
            root: root.clone(),
            thumbs: thumbs.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("gallery-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::io("starting the writer thread", &config.index_path))?;
        Ok(Arc::new(GalleryStore {
            root,
            thumbs,
            policy: config.policy,
            reader: Mutex::new(reader),
            tx: Some(tx),
            thread: Some(thread),
        }))
    }

    pub fn outputs(&self) -> &OutputsRoot {
        &self.root
    }

    pub fn policy(&self) -> SavePolicy {
        self.policy
    }

    fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command) -> Answer<T> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(make(reply)).is_ok());
        Answer(sent.then_some(rx))
    }

    /// Save a job's images; answers with their ids once they are on disk and indexed.
    pub fn save(&self, job: SaveJob, images: Vec<SaveImage>) -> Answer<Vec<i64>> {
        self.send(|reply| Command::Save { job, images, reply })
    }

    /// Delete an image: its file, its thumbnail and its row. False when there is no such id.
    pub fn delete(&self, id: i64) -> Answer<bool> {
        self.send(|reply| Command::Delete { id, reply })
    }

    /// Reconcile the index with the folder now.
    pub fn reconcile(&self) -> Answer<ReconcileReport> {
        self.send(|reply| Command::Reconcile { reply })
    }

    /// A page of images (blocking).
    pub fn list(&self, query: &ImageQuery) -> Result<ImagePage, StoreError> {
        let (images, total) = sql::query(&self.reader.lock(), query)?;
        Ok(ImagePage { images, total })
    }

    /// One image's row (blocking).
    pub fn get(&self, id: i64) -> Result<Option<ImageRow>, StoreError> {
        sql::get(&self.reader.lock(), id)
    }

    /// The values to filter on (blocking).
    pub fn facets(&self) -> Result<Facets, StoreError> {
        sql::facets(&self.reader.lock())
    }

    /// An image's row and checked file path (blocking). NotFound when the id is unknown or its file
    /// is gone or fails the checks.
    pub fn file(&self, id: i64) -> Result<(ImageRow, PathBuf), StoreError> {
        let row = self.get(id)?.ok_or(StoreError::NotFound(id))?;
        let path = self.root.resolve(&row.path).ok_or(StoreError::NotFound(id))?;
        Ok((row, path))
    }

    /// An image's bytes (blocking).
    pub fn read_file(&self, id: i64) -> Result<(ImageRow, Vec<u8>), StoreError> {
        let (row, path) = self.file(id)?;
        let bytes = std::fs::read(&path).map_err(|_| StoreError::NotFound(id))?;
        Ok((row, bytes))
    }

    /// An image's JPEG thumbnail, made on first use (blocking).
    pub fn thumbnail(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let (row, path) = self.file(id)?;
        let stat = FileStat {
            size: row.file_size,
            mtime_ns: row.mtime_ns,
        };
        self.thumbs.get_or_make(&row.path, stat, &path)
    }
}

impl Drop for GalleryStore {
    fn drop(&mut self) {
        // Let the writer finish what it was given, then close its connection.
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer of the writer thread to one command.
#[must_use]
pub struct Answer<T>(Option<oneshot::Receiver<Result<T, StoreError>>>);

impl<T> Answer<T> {
    /// Wait without blocking the async runtime.
    pub async fn wait(self) -> Result<T, StoreError> {
        match self.0 {
            Some(rx) => rx.await.unwrap_or(Err(StoreError::WriterGone)),
            None => Err(StoreError::WriterGone),
        }
    }

    /// Wait, blocking the thread (never call this on an async runtime thread).
    pub fn wait_blocking(self) -> Result<T, StoreError> {
        match self.0 {
            Some(rx) => rx.blocking_recv().unwrap_or(Err(StoreError::WriterGone)),
            None => Err(StoreError::WriterGone),
        }
    }
}

#[cfg(test)]
mod tests;
