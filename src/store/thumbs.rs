//! Thumbnails: made once per file version (JPEG, fitting a square), cached under `<data>/thumbs/`
//! by a hash of the image's path, size and modification time (so a rebuilt index with new ids
//! still finds them, and a changed file gets a new one).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;
use super::atomic::{create_dirs, write_replace};
use super::row::FileStat;
use crate::images::{Limits, decode_bytes};

/// The thumbnail cache.
#[derive(Debug, Clone)]
pub struct Thumbs {
    dir: PathBuf,
    size: u32,
}

impl Thumbs {
    pub fn new(dir: PathBuf, size: u32) -> Self {
        Thumbs {
            dir,
            size: size.max(16),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file of one version of an image.
    pub fn path_for(&self, rel: &str, stat: FileStat) -> PathBuf {
        let mut h = Sha256::new();
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(stat.size.to_le_bytes());
        h.update(stat.mtime_ns.to_le_bytes());
        h.update(self.size.to_le_bytes());
        let key = hex::encode(&h.finalize()[..16]);
        self.dir.join(format!("{key}.jpg"))
    }

    /// Forget the thumbnail of an image version (missing is fine).
    pub fn remove(&self, rel: &str, stat: FileStat) {
        let _ = std::fs::remove_file(self.path_for(rel, stat));
    }

    /// The JPEG thumbnail of `source` (the file at `rel` with `stat`), made and cached when missing.
    pub fn get_or_make(&self, rel: &str, stat: FileStat, source: &Path) -> Result<Vec<u8>, StoreError> {
        let cached = self.path_for(rel, stat);
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok(bytes);
        }
        let bytes = std::fs::read(source).map_err(StoreError::io("reading", source))?;
        let jpeg = self.make(&bytes).map_err(|e| StoreError::Image(rel.to_string(), e))?;
        create_dirs(&self.dir)?;
        write_replace(&cached, &jpeg)?;
        Ok(jpeg)
    }

    fn make(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let decoded = decode_bytes(bytes, &Limits::default()).map_err(|e| e.to_string())?;
        let rgb = decoded.to_rgb_flattened();
        let (w, h) = rgb.dimensions();
        let scale = (f64::from(self.size) / f64::from(w.max(h))).min(1.0);
        let tw = ((f64::from(w) * scale).round() as u32).max(1);
        let th = ((f64::from(h) * scale).round() as u32).max(1);
        let small = if (tw, th) == (w, h) {
            rgb
        } else {
            image::imageops::thumbnail(&rgb, tw, th)
        };
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&small)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::encode_png_with_infotext;

    #[test]
    fn makes_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.png");
        let img = image::RgbImage::from_fn(300, 150, |x, _| image::Rgb([x as u8, 0, 0]));
        std::fs::write(&src, encode_png_with_infotext(&img, None).unwrap()).unwrap();
        let t = Thumbs::new(dir.path().join("thumbs"), 64);
        let stat = FileStat { size: 1, mtime_ns: 2 };
        let jpeg = t.get_or_make("a.png", stat, &src).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (64, 32));
        assert!(t.path_for("a.png", stat).is_file());
        assert_ne!(
            t.path_for("a.png", stat),
            t.path_for("a.png", FileStat { size: 1, mtime_ns: 3 })
        );
        t.remove("a.png", stat);
        assert!(!t.path_for("a.png", stat).exists());
        std::fs::write(&src, b"broken").unwrap();
        assert!(matches!(t.get_or_make("a.png", stat, &src), Err(StoreError::Image(..))));
    }
}
