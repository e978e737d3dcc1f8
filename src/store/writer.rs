//! The one thread that writes: image files, their rows, deletions and reconciles go through it in
//! order, over one SQLite connection. Callers get a oneshot answer (awaitable, or blocking outside
//! the async runtime).

use std::path::PathBuf;

use chrono::{DateTime, Local, Utc};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::atomic::{create_dirs, write_new};
use super::layout::{ImageKind, next_sequence_number, relative_of, sample_name};
use super::row::{FileStat, ImageRow};
use super::scan::{ReconcileReport, reconcile};
use super::thumbs::Thumbs;
use super::{OutputsRoot, StoreError, pngtag, sql};

/// The job a batch of images comes from.
#[derive(Debug, Clone)]
pub struct SaveJob {
    pub job_id: Option<String>,
    pub kind: ImageKind,
    pub created: DateTime<Utc>,
}

/// One image to save: PNG bytes (with the infotext in "parameters") and its seed (for the name).
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub png: Vec<u8>,
    pub seed: u64,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    Save {
        job: SaveJob,
        images: Vec<SaveImage>,
        reply: Reply<Vec<i64>>,
    },
    Delete {
        id: i64,
        reply: Reply<bool>,
    },
    Reconcile {
        reply: Reply<ReconcileReport>,
    },
}

pub(crate) struct Writer {
    pub conn: Connection,
    pub root: OutputsRoot,
    pub thumbs: Thumbs,
}

impl Writer {
    pub fn run(mut self, rx: crossbeam_channel::Receiver<Command>) {
        for cmd in rx {
            match cmd {
                Command::Save { job, images, reply } => {
                    let _ = reply.send(self.save(&job, &images));
                }
                Command::Delete { id, reply } => {
                    let _ = reply.send(self.delete(id));
                }
                Command::Reconcile { reply } => {
                    let _ = reply.send(reconcile(&mut self.conn, self.root.path(), &self.thumbs));
                }
            }
        }
    }

    fn save(&mut self, job: &SaveJob, images: &[SaveImage]) -> Result<Vec<i64>, StoreError> {
        let day = job.created.with_timezone(&Local).format("%Y-%m-%d").to_string();
        let dir: PathBuf = self.root.path().join(job.kind.folder()).join(&day);
        create_dirs(&dir)?;
        let tag = pngtag::Tag {
            job: job.job_id.clone(),
            created: Some(super::row::created_fields(job.created).0),
        };
        let mut ids = Vec::with_capacity(images.len());
        for img in images {
            let bytes = pngtag::insert(&img.png, &tag).unwrap_or_else(|| img.png.clone());
            let first = next_sequence_number(&dir).map_err(StoreError::io("listing", &dir))?;
            let names = (0..500).map(|i| sample_name(first + i, img.seed));
            let path = write_new(&dir, names, &bytes)?;
            let stat = std::fs::metadata(&path)
                .map(|m| FileStat::of(&m))
                .map_err(StoreError::io("reading", &path))?;
            let rel = relative_of(self.root.path(), &path)
                .ok_or_else(|| StoreError::Image(path.display().to_string(), "outside the outputs folder".into()))?;
            let row = ImageRow::from_bytes(&rel, &bytes, stat)
                .ok_or_else(|| StoreError::Image(rel.clone(), "not a readable image".into()))?;
            ids.push(sql::upsert(&self.conn, &row)?);
        }
        Ok(ids)
    }

    fn delete(&mut self, id: i64) -> Result<bool, StoreError> {
        let Some(row) = sql::get(&self.conn, id)? else {
            return Ok(false);
        };
        if let Some(path) = self.root.resolve(&row.path) {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    if let Some(dir) = path.parent() {
                        super::atomic::sync_dir(dir)?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("deleting", &path)(e)),
            }
        }
        self.thumbs.remove(
            &row.path,
            FileStat {
                size: row.file_size,
                mtime_ns: row.mtime_ns,
            },
        );
        sql::delete(&self.conn, id)
    }
}
