//! Atomic file writes: a temporary file in the same folder (hidden, `.tmp`: never indexed), fsync,
//! then a link or rename onto the final name, then fsync of the folder. A reader sees the whole file
//! or nothing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;

fn temp_path(dir: &Path, hint: &str) -> PathBuf {
    dir.join(format!(".{hint}.{}.tmp", uuid::Uuid::new_v4().simple()))
}

fn write_temp(dir: &Path, hint: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let tmp = temp_path(dir, hint);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(StoreError::io("creating", &tmp))?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::io("writing", &tmp)(e));
    }
    Ok(tmp)
}

/// fsync a folder so a new or renamed entry survives a crash (file systems that cannot are tolerated).
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let res = File::open(dir).and_then(|d| d.sync_all());
    match res {
        Err(e)
            if !matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ) =>
        {
            Err(StoreError::io("syncing the folder", dir)(e))
        }
        _ => Ok(()),
    }
}

/// Create the folder (and parents), syncing each parent that got a new entry.
pub fn create_dirs(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(StoreError::io("creating the folder", dir)(e)),
    }
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => Ok(()),
    }
}

/// Write `bytes` under the first of `names` that does not exist yet in `dir`, never replacing a file
/// (a hard link fails on an existing name; where links are unsupported, a checked rename). Returns the
/// final path.
pub fn write_new(dir: &Path, names: impl IntoIterator<Item = String>, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let mut names = names.into_iter().peekable();
    let hint = names.peek().cloned().unwrap_or_else(|| "file".into());
    let tmp = write_temp(dir, &hint, bytes)?;
    let result = (|| {
        for name in names {
            let target = dir.join(&name);
            match std::fs::hard_link(&tmp, &target) {
                Ok(()) => {
                    std::fs::remove_file(&tmp).map_err(StoreError::io("removing", &tmp))?;
                    sync_dir(dir)?;
                    return Ok(target);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(_) => {
                    // No hard links here (some network or FUSE file systems): rename when free.
                    if std::fs::symlink_metadata(&target).is_ok() {
                        continue;
                    }
                    std::fs::rename(&tmp, &target).map_err(StoreError::io("renaming onto", &target))?;
                    sync_dir(dir)?;
                    return Ok(target);
                }
            }
        }
        Err(StoreError::NoFreeName(dir.to_path_buf()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path`, replacing what is there, atomically.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let hint = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = write_temp(dir, &hint, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::io("renaming onto", path)(e));
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.png"), b"old").unwrap();
        let p = write_new(d, ["a.png".to_string(), "b.png".to_string()], b"new").unwrap();
        assert_eq!(p, d.join("b.png"));
        assert_eq!(std::fs::read(d.join("a.png")).unwrap(), b"old");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(matches!(
            write_new(d, ["a.png".to_string()], b"x"),
            Err(StoreError::NoFreeName(_))
        ));
        let names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        write_replace(&d.join("a.png"), b"newer").unwrap();
        assert_eq!(std::fs::read(d.join("a.png")).unwrap(), b"newer");
        create_dirs(&d.join("x/y/z")).unwrap();
        assert!(d.join("x/y/z").is_dir());
    }
}
