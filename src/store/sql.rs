//! Every SQL statement of the gallery index (SQLite through rusqlite).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};

use super::StoreError;
use super::row::{FileStat, ImageRow};

/// Bumped when the table changes; an index of another version is rebuilt from the files.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE images (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    path            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    model           TEXT,
    model_hash      TEXT,
    sampler         TEXT,
    schedule        TEXT,
    seed            INTEGER,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    steps           INTEGER,
    cfg_scale       REAL,
    infotext        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    day             TEXT NOT NULL,
    job_id          TEXT,
    file_size       INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL
);
CREATE INDEX images_created ON images (created_at DESC, id DESC);
CREATE INDEX images_model ON images (model);
CREATE INDEX images_sampler ON images (sampler);
CREATE INDEX images_day ON images (day);
CREATE INDEX images_job ON images (job_id);
";

const COLUMNS: &str = "id, path, kind, prompt, negative_prompt, model, model_hash, sampler, schedule, seed, width, \
                       height, steps, cfg_scale, infotext, created_at, day, job_id, file_size, mtime_ns";

/// Open (creating) the index for reading and writing.
pub fn open_rw(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Open the index read-only (the readers; the writer thread holds the only writing connection).
pub fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Create the table when missing or of another version. True when it was (re)created empty.
pub fn ensure_schema(conn: &Connection) -> Result<bool, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if version == SCHEMA_VERSION && has_table {
        return Ok(false);
    }
    conn.execute_batch(&format!(
        "BEGIN; DROP TABLE IF EXISTS images; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))?;
    Ok(true)
}

/// Quick integrity check (a damaged file is moved aside and rebuilt).
pub fn is_healthy(conn: &Connection) -> bool {
    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
        .is_ok_and(|s| s == "ok")
}

fn row_of(r: &Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: r.get(0)?,
        path: r.get(1)?,
        kind: r.get(2)?,
        prompt: r.get(3)?,
        negative_prompt: r.get(4)?,
        model: r.get(5)?,
        model_hash: r.get(6)?,
        sampler: r.get(7)?,
        schedule: r.get(8)?,
        seed: r.get(9)?,
        width: r.get(10)?,
        height: r.get(11)?,
        steps: r.get(12)?,
        cfg_scale: r.get(13)?,
        infotext: r.get(14)?,
        created_at: r.get(15)?,
        day: r.get(16)?,
        job_id: r.get(17)?,
        file_size: r.get(18)?,
        mtime_ns: r.get(19)?,
    })
}

/// Insert a row, or update the row of the same path (keeping its id). Returns the id.
pub fn upsert(conn: &Connection, row: &ImageRow) -> Result<i64, StoreError> {
    let id = conn.query_row(
        "INSERT INTO images (path, kind, prompt, negative_prompt, model, model_hash, sampler, schedule, seed, width, \
         height, steps, cfg_scale, infotext, created_at, day, job_id, file_size, mtime_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, prompt = excluded.prompt,
             negative_prompt = excluded.negative_prompt, model = excluded.model, model_hash = excluded.model_hash,
             sampler = excluded.sampler, schedule = excluded.schedule, seed = excluded.seed, width = excluded.width,
             height = excluded.height, steps = excluded.steps, cfg_scale = excluded.cfg_scale,
             infotext = excluded.infotext, created_at = excluded.created_at, day = excluded.day,
             job_id = excluded.job_id, file_size = excluded.file_size, mtime_ns = excluded.mtime_ns
         RETURNING id",
        params![
            row.path,
            row.kind,
            row.prompt,
            row.negative_prompt,
            row.model,
            row.model_hash,
            row.sampler,
            row.schedule,
            row.seed,
            row.width,
            row.height,
            row.steps,
            row.cfg_scale,
            row.infotext,
            row.created_at,
            row.day,
            row.job_id,
            row.file_size,
            row.mtime_ns,
        ],
        |r| r.get(0),
    )?;
    Ok(id)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<ImageRow>, StoreError> {
    Ok(conn
        .query_row(&format!("SELECT {COLUMNS} FROM images WHERE id = ?1"), [id], row_of)
        .optional()?)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM images WHERE id = ?1", [id])? > 0)
}

/// Every indexed path with its id and file facts (for reconciling with the folder).
pub fn all_files(conn: &Connection) -> Result<HashMap<String, (i64, FileStat)>, StoreError> {
    let mut stmt = conn.prepare("SELECT path, id, file_size, mtime_ns FROM images")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get::<_, i64>(1)?,
                FileStat {
                    size: r.get(2)?,
                    mtime_ns: r.get(3)?,
                },
            ),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))?)
}

/// What the gallery lists: filters are ANDed; `words` must each appear in the prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageQuery {
    pub words: Vec<String>,
    pub model: Option<String>,
    pub sampler: Option<String>,
    pub kind: Option<String>,
    /// Local days, inclusive (YYYY-MM-DD).
    pub from: Option<String>,
    pub to: Option<String>,
    pub job_id: Option<String>,
    pub oldest_first: bool,
    pub offset: u64,
    pub limit: u64,
}

fn like_pattern(word: &str) -> String {
    let mut p = String::from("%");
    for c in word.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of rows (newest first unless asked) and the number matching.
pub fn query(conn: &Connection, q: &ImageQuery) -> Result<(Vec<ImageRow>, i64), StoreError> {
    let mut clauses: Vec<&str> = vec![];
    let mut args: Vec<Value> = vec![];
    for w in &q.words {
        clauses.push("prompt LIKE ? ESCAPE '\\'");
        args.push(Value::Text(like_pattern(w)));
    }
    let eq = [
        ("model = ?", &q.model),
        ("sampler = ?", &q.sampler),
        ("kind = ?", &q.kind),
        ("day >= ?", &q.from),
        ("day <= ?", &q.to),
        ("job_id = ?", &q.job_id),
    ];
    for (clause, value) in eq {
        if let Some(v) = value {
            clauses.push(clause);
            args.push(Value::Text(v.clone()));
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM images {filter}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let order = if q.oldest_first {
        "created_at ASC, id ASC"
    } else {
        "created_at DESC, id DESC"
    };
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    args.push(Value::Integer(limit));
    args.push(Value::Integer(offset));
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM images {filter} ORDER BY {order} LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), row_of)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// A value and how many images have it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// The values the gallery can filter on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Facets {
    pub models: Vec<FacetCount>,
    pub samplers: Vec<FacetCount>,
    /// Newest first.
    pub days: Vec<FacetCount>,
    pub kinds: Vec<FacetCount>,
    pub total: i64,
}

fn facet(conn: &Connection, column: &str, order: &str) -> Result<Vec<FacetCount>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {column}, COUNT(*) FROM images WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {order}"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(FacetCount {
            value: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn facets(conn: &Connection) -> Result<Facets, StoreError> {
    Ok(Facets {
        models: facet(conn, "model", "model")?,
        samplers: facet(conn, "sampler", "sampler")?,
        days: facet(conn, "day", "day DESC")?,
        kinds: facet(conn, "kind", "kind")?,
        total: count(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
