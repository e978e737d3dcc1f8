//! Finding and loading the ONNX Runtime shared library (`ort` with `load-dynamic`).
//!
//! Search order: `--ort-lib` / `SDGATE_ORT_LIB`, then `ORT_DYLIB_PATH`, then the default locations
//! that the README's set-up fills (`.ort/lib` under the working directory or above the binary).
//! A missing or wrong library is an error naming what was tried, never a panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library file name inside a folder, as the PyPI wheel ships it.
pub const LIB_NAMES: &[&str] = &["libonnxruntime.so", "libonnxruntime.so.1.31.1", "libonnxruntime.so.1"];

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(
        "ONNX Runtime library not found (tried: {tried}); install it with scripts/setup-ort or pass --ort-lib / ORT_DYLIB_PATH"
    )]
    NotFound { tried: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    Load { path: PathBuf, message: String },
}

static LOADED: OnceLock<(PathBuf, ort::environment::Environment)> = OnceLock::new();

/// Candidate paths, most specific first.
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
        return out;
    }
    let mut dirs = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd.join(".ort/lib"));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/release/sdgate → the repository's .ort/lib; a container puts it beside the binary.
        for anc in exe.ancestors().skip(1).take(4) {
            dirs.push(anc.join(".ort/lib"));
            dirs.push(anc.join("lib"));
        }
    }
    dirs.push(PathBuf::from("/opt/onnxruntime/lib"));
    for d in dirs {
        for n in LIB_NAMES {
            out.push(d.join(n));
        }
    }
    out
}

/// Load ONNX Runtime once per process. Later calls return the path loaded first.
pub fn load(explicit: Option<&Path>) -> Result<PathBuf, LibraryError> {
    if let Some((p, _)) = LOADED.get() {
        return Ok(p.clone());
    }
    let cands = candidates(explicit);
    let found = cands.iter().find(|p| p.is_file()).cloned();
    let Some(path) = found else {
        let tried = cands
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(LibraryError::NotFound { tried });
    };
    let env = ort::init_from(&path).map_err(|e| LibraryError::Load {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let env = env
        .with_name("sdgate")
        .with_telemetry(false)
        .build()
        .map_err(|e| LibraryError::Load {
            path: path.clone(),
            message: e.to_string(),
        })?;
    // The environment lives as long as the process: sessions refer to it.
    let _ = LOADED.set((path.clone(), env));
    Ok(path)
}

/// The ONNX Runtime environment, once [`load`] has succeeded.
pub fn environment() -> Result<&'static ort::environment::Environment, LibraryError> {
    LOADED.get().map(|(_, env)| env).ok_or_else(|| LibraryError::NotFound {
        tried: "(load() was not called)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_not_a_panic() {
        let err = candidates(Some(Path::new("/nonexistent/libonnxruntime.so")));
        assert_eq!(err.len(), 1);
        // `load` would set global state; check the error path through the finder alone.
        let found = err.iter().find(|p| p.is_file());
        assert!(found.is_none());
    }
}
