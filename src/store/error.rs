//! The store's errors.

use std::path::PathBuf;

/// Errors of the output store and its index.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the gallery index: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no image {0}")]
    NotFound(i64),
    #[error("image {0}: {1}")]
    Image(String, String),
    #[error("no free file name in {0} after 500 tries")]
    NoFreeName(PathBuf),
    #[error("the gallery writer has stopped")]
    WriterGone,
    #[error("invalid query: {0}")]
    Query(String),
}

impl StoreError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { what, path, source }
    }
}
