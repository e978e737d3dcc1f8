//! Where images go, as the WebUI lays out its outputs folder: `txt2img-images/YYYY-MM-DD/NNNNN-<seed>.png`
//! (`outdir_txt2img_samples`, `directories_filename_pattern` "[date]", `samples_filename_pattern`
//! "[seed]" with `save_images_add_number`), and which names the index may hold.

use std::path::{Path, PathBuf};

/// What produced an image, from the top folder it lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Txt2img,
    Img2img,
    /// Grids and anything else found in the outputs folder.
    Other,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Txt2img => "txt2img",
            ImageKind::Img2img => "img2img",
            ImageKind::Other => "other",
        }
    }

    /// The WebUI's folder for this kind's samples.
    pub fn folder(self) -> &'static str {
        match self {
            ImageKind::Txt2img => "txt2img-images",
            ImageKind::Img2img => "img2img-images",
            ImageKind::Other => "other-images",
        }
    }

    /// The kind of a file from its path relative to the outputs folder.
    pub fn of_relative(rel: &str) -> Self {
        match rel.split('/').next() {
            Some("txt2img-images") => ImageKind::Txt2img,
            Some("img2img-images") => ImageKind::Img2img,
            _ => ImageKind::Other,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "txt2img" => Some(ImageKind::Txt2img),
            "img2img" => Some(ImageKind::Img2img),
            "other" => Some(ImageKind::Other),
            _ => None,
        }
    }
}

/// Python's `int(text)` for the ASCII forms the WebUI meets: surrounding whitespace, an optional
/// sign, digits with single underscores between them.
fn py_int(text: &str) -> Option<i64> {
    let t = text.trim_matches(|c: char| c.is_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let v: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -v } else { v })
}

/// `os.path.splitext(name)[0]`: the name without its last extension (a leading dot is no extension).
fn stem(name: &str) -> &str {
    let lead = name.len() - name.trim_start_matches('.').len();
    match name[lead..].rfind('.') {
        Some(i) => &name[..lead + i],
        None => name,
    }
}

/// The WebUI's `get_next_sequence_number(path, "")`: one more than the largest number that starts a
/// file name in `dir` (before the first `-`), 0 for an empty or missing folder.
pub fn next_sequence_number(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut result: i64 = -1;
    for entry in entries {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let first = stem(&name).split('-').next().unwrap_or("");
        if let Some(n) = py_int(first) {
            result = result.max(n);
        }
    }
    Ok(u64::try_from(result.saturating_add(1)).unwrap_or(0))
}

/// `NNNNN-<seed>.png`.
pub fn sample_name(number: u64, seed: u64) -> String {
    format!("{number:05}-{seed}.png")
}

/// The folder for today's images of a kind, relative to the outputs folder (local date, as the WebUI).
pub fn date_folder(kind: ImageKind, day: &str) -> String {
    format!("{}/{day}", kind.folder())
}

/// A file the index may hold: an image name (png, jpg, jpeg, webp), not hidden, not temporary.
pub fn is_image_name(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".webp"].iter().any(|e| lower.ends_with(e))
}

/// A temporary file of an atomic write (see atomic.rs).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// A relative path as the index keeps it (`/`-separated), checked: no empty, `.` or `..` component,
/// not absolute, no backslash or NUL. Returns it as a path under no root.
pub fn checked_relative(rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.starts_with('/') || rel.contains('\\') || rel.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

/// The `/`-separated form of a path under `root` (None when it is not under it or not UTF-8).
pub fn relative_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let s = parts?.join("/");
    checked_relative(&s).map(|_| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int() {
        assert_eq!(py_int("00012"), Some(12));
        assert_eq!(py_int(" 7 "), Some(7));
        assert_eq!(py_int("+3"), Some(3));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int("grid"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("12a"), None);
    }

    #[test]
    fn stems() {
        assert_eq!(stem("00001-5.png"), "00001-5");
        assert_eq!(stem(".hidden"), ".hidden");
        assert_eq!(stem(".00001-5.png.tmp"), ".00001-5.png");
        assert_eq!(stem("noext"), "noext");
    }

    #[test]
    fn sequence_numbers_follow_the_webui() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_sequence_number(&dir.path().join("missing")).unwrap(), 0);
        assert_eq!(next_sequence_number(dir.path()).unwrap(), 0);
        for name in ["00000-1.png", "00007-99.png", "grid-0003.png", "00002.txt", "abc.png"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(next_sequence_number(dir.path()).unwrap(), 8);
        // A number with no seed part, and a gap: the next after the highest, never filling gaps.
        std::fs::write(dir.path().join("00041.png"), b"").unwrap();
        assert_eq!(next_sequence_number(dir.path()).unwrap(), 42);
        // Hidden temporary files never count (".00100-1.png" is not a number to Python either).
        std::fs::write(dir.path().join(".00100-1.png.x.tmp"), b"").unwrap();
        assert_eq!(next_sequence_number(dir.path()).unwrap(), 42);
        assert_eq!(sample_name(42, 1234), "00042-1234.png");
        assert_eq!(sample_name(123456, 1), "123456-1.png");
    }

    #[test]
    fn names_and_paths() {
        assert!(is_image_name("00001-2.png") && is_image_name("a.JPG") && is_image_name("x.webp"));
        assert!(!is_image_name(".00001-2.png") && !is_image_name("a.png.tmp") && !is_image_name("a.txt"));
        assert!(is_temp_name(".00001-2.png.ab12.tmp"));
        assert!(checked_relative("txt2img-images/2024-01-01/00001-2.png").is_some());
        for bad in [
            "",
            "/etc/passwd",
            "../x.png",
            "a/../b.png",
            "a//b.png",
            "a/./b.png",
            "a\\b.png",
            "a/",
        ] {
            assert!(checked_relative(bad).is_none(), "{bad:?}");
        }
        assert_eq!(ImageKind::of_relative("img2img-images/d/x.png"), ImageKind::Img2img);
        assert_eq!(ImageKind::of_relative("txt2img-grids/d/x.png"), ImageKind::Other);
        let root = Path::new("/o");
        assert_eq!(relative_of(root, Path::new("/o/a/b.png")).as_deref(), Some("a/b.png"));
        assert_eq!(relative_of(root, Path::new("/p/a/b.png")), None);
    }
}
