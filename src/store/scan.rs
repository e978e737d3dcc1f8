//! Reconciling the index with the outputs folder: files added behind its back are read and indexed,
//! changed ones re-read, missing ones dropped. Symbolic links, hidden entries and temporary files are
//! never indexed; temporary files left by a crash are removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::layout::{is_image_name, is_temp_name, relative_of};
use super::row::{FileStat, ImageRow};
use super::sql;
use super::thumbs::Thumbs;

/// How deep below the outputs folder files are looked for (`txt2img-images/day/file` is 3).
const MAX_DEPTH: usize = 8;
/// Temporary files older than this are leftovers of a crash.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// What a reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconcileReport {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Files that are not images sdgate can read (left alone).
    pub unreadable: usize,
    /// Temporary files of interrupted writes deleted.
    pub temp_removed: usize,
}

struct Found {
    rel: String,
    abs: PathBuf,
    stat: FileStat,
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<Found>, temps: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // DirEntry::file_type does not follow symbolic links: a link is neither a file nor a folder here.
        let Ok(ft) = entry.file_type() else { continue };
        let path = entry.path();
        if ft.is_dir() && !name.starts_with('.') && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, out, temps);
        } else if ft.is_file() && is_temp_name(name) {
            temps.push(path);
        } else if ft.is_file()
            && is_image_name(name)
            && let Some(rel) = relative_of(root, &path)
            && let Ok(meta) = entry.metadata()
        {
            out.push(Found {
                rel,
                abs: path,
                stat: FileStat::of(&meta),
            });
        }
    }
}

fn remove_stale_temps(temps: Vec<PathBuf>) -> usize {
    let now = SystemTime::now();
    temps
        .into_iter()
        .filter(|p| {
            let old = std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            old && std::fs::remove_file(p).is_ok()
        })
        .count()
}

/// Bring the index in line with the folder (one transaction).
pub fn reconcile(conn: &mut Connection, root: &Path, thumbs: &Thumbs) -> Result<ReconcileReport, StoreError> {
    let mut found = vec![];
    let mut temps = vec![];
    walk(root, root, 0, &mut found, &mut temps);
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut report = ReconcileReport {
        temp_removed: remove_stale_temps(temps),
        ..ReconcileReport::default()
    };
    let indexed = sql::all_files(conn)?;
    let mut seen = HashSet::with_capacity(found.len());
    let mut rows = vec![];
    for f in &found {
        let known = indexed.get(&f.rel);
        if known.is_some_and(|(_, st)| *st == f.stat) {
            seen.insert(f.rel.as_str());
            report.unchanged += 1;
            continue;
        }
        let Ok(bytes) = std::fs::read(&f.abs) else {
            report.unreadable += 1;
            continue;
        };
        match ImageRow::from_bytes(&f.rel, &bytes, f.stat) {
            Some(row) => {
                seen.insert(f.rel.as_str());
                if let Some((_, old)) = known {
                    thumbs.remove(&f.rel, *old);
                    report.updated += 1;
                } else {
                    report.added += 1;
                }
                rows.push(row);
            }
            None => report.unreadable += 1,
        }
    }
    // New rows in creation order, so ids grow with time as they do for saved images.
    rows.sort_by(|a, b| (&a.created_at, a.mtime_ns, &a.path).cmp(&(&b.created_at, b.mtime_ns, &b.path)));
    let tx = conn.transaction()?;
    for row in &rows {
        sql::upsert(&tx, row)?;
    }
    for (rel, (id, stat)) in &indexed {
        if !seen.contains(rel.as_str()) {
            sql::delete(&tx, *id)?;
            thumbs.remove(rel, *stat);
            report.removed += 1;
        }
    }
    tx.commit()?;
    Ok(report)
}
