//! An indexed image: what the index keeps of each file, read back from the file itself.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;

use super::layout::ImageKind;
use super::pngtag;
use crate::images::{Limits, ParsedInfotext, probe, read_metadata};

/// Limits for reading metadata of files in the outputs folder (headers only; no pixels decoded).
pub const READ_LIMITS: Limits = Limits {
    max_encoded_bytes: 512 << 20,
    max_side: 65_535,
    max_pixels: 1 << 32,
};

/// One image of the index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRow {
    pub id: i64,
    /// Relative to the outputs folder, `/`-separated.
    pub path: String,
    /// txt2img, img2img or other.
    pub kind: String,
    pub prompt: String,
    pub negative_prompt: String,
    pub model: Option<String>,
    pub model_hash: Option<String>,
    pub sampler: Option<String>,
    pub schedule: Option<String>,
    pub seed: Option<i64>,
    pub width: i64,
    pub height: i64,
    pub steps: Option<i64>,
    pub cfg_scale: Option<f64>,
    /// The whole infotext ("" when the file has none).
    pub infotext: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The local date the image was made (YYYY-MM-DD), as its folder is named.
    pub day: String,
    pub job_id: Option<String>,
    pub file_size: i64,
    /// Modification time of the file, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// File facts the scanner and the writer know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: i64,
    pub mtime_ns: i64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        FileStat {
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mtime_ns,
        }
    }

    fn mtime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.mtime_ns)
    }
}

/// The creation time as stored (RFC 3339 UTC, seconds with milliseconds) and its local day.
pub fn created_fields(t: DateTime<Utc>) -> (String, String) {
    (
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        t.with_timezone(&Local).format("%Y-%m-%d").to_string(),
    )
}

impl ImageRow {
    /// The row for a file's bytes (id 0 until inserted). None when the bytes are no image sdgate reads.
    pub fn from_bytes(path: &str, bytes: &[u8], stat: FileStat) -> Option<ImageRow> {
        let info = probe(bytes, &READ_LIMITS).ok()?;
        let meta = read_metadata(bytes, &READ_LIMITS).ok()?;
        let infotext = meta.infotext.unwrap_or_default();
        let tag = meta
            .items
            .iter()
            .find(|t| t.keyword == pngtag::KEYWORD)
            .map(|t| pngtag::parse(&t.text))
            .unwrap_or_default();
        let p = ParsedInfotext::parse(&infotext);
        let created = tag
            .created
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or_else(|| stat.mtime(), |t| t.with_timezone(&Utc));
        let (created_at, day) = created_fields(created);
        let text = |v: Option<&str>| v.map(str::to_string).filter(|s| !s.is_empty());
        Some(ImageRow {
            id: 0,
            path: path.to_string(),
            kind: ImageKind::of_relative(path).as_str().to_string(),
            prompt: p.prompt.clone(),
            negative_prompt: p.negative_prompt.clone(),
            model: text(p.model()),
            model_hash: text(p.model_hash()),
            sampler: text(p.sampler()),
            schedule: text(p.schedule_type()),
            seed: p.seed(),
            width: i64::from(info.width),
            height: i64::from(info.height),
            steps: p.steps().map(i64::from),
            cfg_scale: p.cfg_scale(),
            infotext,
            created_at,
            day,
            job_id: tag.job,
            file_size: stat.size,
            mtime_ns: stat.mtime_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::encode_png_with_infotext;

    #[test]
    fn reads_the_infotext_back() {
        let img = image::RgbImage::new(16, 8);
        let info = "a cat, 猫\nNegative prompt: blurry\nSteps: 4, Sampler: DPM++ 2M, Schedule type: Karras, \
                    CFG scale: 7.5, Seed: 42, Size: 16x8, Model hash: abcdef1234, Model: tiny";
        let png = encode_png_with_infotext(&img, Some(info)).unwrap();
        let tag = pngtag::Tag {
            job: Some("job-1".into()),
            created: Some("2024-03-04T05:06:07.123Z".into()),
        };
        let png = pngtag::insert(&png, &tag).unwrap();
        let stat = FileStat { size: 10, mtime_ns: 5 };
        let row = ImageRow::from_bytes("txt2img-images/2024-03-04/00000-42.png", &png, stat).unwrap();
        assert_eq!(row.prompt, "a cat, 猫");
        assert_eq!(row.negative_prompt, "blurry");
        assert_eq!(row.sampler.as_deref(), Some("DPM++ 2M"));
        assert_eq!(row.schedule.as_deref(), Some("Karras"));
        assert_eq!(row.model.as_deref(), Some("tiny"));
        assert_eq!(row.model_hash.as_deref(), Some("abcdef1234"));
        assert_eq!((row.seed, row.steps, row.cfg_scale), (Some(42), Some(4), Some(7.5)));
        assert_eq!((row.width, row.height), (16, 8));
        assert_eq!(row.created_at, "2024-03-04T05:06:07.123Z");
        assert_eq!(row.job_id.as_deref(), Some("job-1"));
        assert_eq!(row.kind, "txt2img");
        // No infotext, no tag: the file time.
        let bare = encode_png_with_infotext(&img, None).unwrap();
        let row = ImageRow::from_bytes("x/y.png", &bare, stat).unwrap();
        assert_eq!((row.prompt.as_str(), row.kind.as_str()), ("", "other"));
        assert!(row.created_at.starts_with("1970-01-01T00:00:00"));
        assert!(ImageRow::from_bytes("x.png", b"nope", stat).is_none());
    }
}
