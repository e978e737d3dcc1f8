//! Unit tests of the store and index.

use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use crate::images::encode_png_with_infotext;

fn png(prompt: &str, seed: u64, sampler: &str, model: &str) -> Vec<u8> {
    let img = image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(seed % 200) as u8, x as u8 * 8, y as u8 * 8])
    });
    let info = format!(
        "{prompt}\nNegative prompt: ugly\nSteps: 4, Sampler: {sampler}, Schedule type: Karras, CFG scale: 7, \
         Seed: {seed}, Size: 24x16, Model hash: 0123456789, Model: {model}"
    );
    encode_png_with_infotext(&img, Some(&info)).unwrap()
}

fn image(prompt: &str, seed: u64) -> SaveImage {
    SaveImage {
        png: png(prompt, seed, "Euler a", "tiny"),
        seed,
    }
}

fn job(kind: ImageKind, id: &str) -> SaveJob {
    SaveJob {
        job_id: Some(id.into()),
        kind,
        created: Utc.with_ymd_and_hms(2024, 5, 6, 12, 0, 0).unwrap(),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn config(&self) -> StoreConfig {
        StoreConfig::new(&self.dir.path().join("data"), &self.dir.path().join("outputs"))
    }
    fn open(&self) -> Arc<GalleryStore> {
        GalleryStore::open(self.config()).unwrap()
    }
    fn outputs(&self) -> std::path::PathBuf {
        self.dir.path().join("outputs")
    }
}

fn all(store: &GalleryStore) -> Vec<ImageRow> {
    store
        .list(&ImageQuery {
            limit: 1000,
            oldest_first: true,
            ..ImageQuery::default()
        })
        .unwrap()
        .images
}

fn day_dir(kind: ImageKind) -> String {
    let day = job(kind, "x")
        .created
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d")
        .to_string();
    layout::date_folder(kind, &day)
}

#[test]
fn saved_images_are_named_like_the_webui_and_listed() {
    let fx = Fixture::new();
    let store = fx.open();
    let ids = store
        .save(
            job(ImageKind::Txt2img, "j1"),
            vec![image("a red cat", 11), image("a red cat", 12)],
        )
        .wait_blocking()
        .unwrap();
    assert_eq!(ids.len(), 2);
    let rows = all(&store);
    let dir = day_dir(ImageKind::Txt2img);
    let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, [format!("{dir}/00000-11.png"), format!("{dir}/00001-12.png")]);
    let r = &rows[0];
    assert_eq!((r.prompt.as_str(), r.negative_prompt.as_str()), ("a red cat", "ugly"));
    assert_eq!(
        (r.sampler.as_deref(), r.schedule.as_deref()),
        (Some("Euler a"), Some("Karras"))
    );
    assert_eq!(
        (r.model.as_deref(), r.model_hash.as_deref()),
        (Some("tiny"), Some("0123456789"))
    );
    assert_eq!(
        (r.seed, r.steps, r.cfg_scale, r.width, r.height),
        (Some(11), Some(4), Some(7.0), 24, 16)
    );
    assert_eq!((r.job_id.as_deref(), r.kind.as_str()), (Some("j1"), "txt2img"));
    assert_eq!(r.created_at, "2024-05-06T12:00:00.000Z");
    assert!(r.file_size > 0 && r.mtime_ns > 0);
    // The file keeps the infotext (read back by the png-info parser) and nothing temporary is left.
    let bytes = std::fs::read(fx.outputs().join(&r.path)).unwrap();
    let meta = crate::images::read_metadata(&bytes, &crate::images::Limits::default()).unwrap();
    assert!(
        meta.infotext
            .unwrap()
            .starts_with("a red cat\nNegative prompt: ugly\nSteps: 4")
    );
    let names: Vec<String> = std::fs::read_dir(fx.outputs().join(&dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // img2img goes to its own folder with its own counter.
    store
        .save(job(ImageKind::Img2img, "j2"), vec![image("a dog", 5)])
        .wait_blocking()
        .unwrap();
    let rows = all(&store);
    assert_eq!(rows[2].path, format!("{}/00000-5.png", day_dir(ImageKind::Img2img)));
    assert_eq!(rows[2].kind, "img2img");
}

#[test]
fn the_counter_continues_after_the_highest_number() {
    let fx = Fixture::new();
    let dir = fx.outputs().join(day_dir(ImageKind::Txt2img));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("00007-1.png"), png("old", 1, "Euler", "m")).unwrap();
    std::fs::write(dir.join("00003-2.png"), png("old", 2, "Euler", "m")).unwrap();
    std::fs::write(dir.join("notes.txt"), b"x").unwrap();
    let store = fx.open();
    assert_eq!(all(&store).len(), 2, "found at start");
    store
        .save(job(ImageKind::Txt2img, "j"), vec![image("new", 9), image("new", 10)])
        .wait_blocking()
        .unwrap();
    assert!(dir.join("00008-9.png").is_file() && dir.join("00009-10.png").is_file());
}

#[test]
fn concurrent_saves_do_not_collide() {
    let fx = Fixture::new();
    let store = fx.open();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..4 {
                    // The same seed everywhere: only the counter keeps names apart.
                    store
                        .save(job(ImageKind::Txt2img, &format!("{t}-{i}")), vec![image("same", 1)])
                        .wait_blocking()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // A second store on the same folders (another process) saving at the same time.
    let other = GalleryStore::open(StoreConfig::new(&fx.dir.path().join("data2"), &fx.outputs())).unwrap();
    let a = store.save(job(ImageKind::Txt2img, "a"), vec![image("same", 1); 3]);
    let b = other.save(job(ImageKind::Txt2img, "b"), vec![image("same", 1); 3]);
    a.wait_blocking().unwrap();
    b.wait_blocking().unwrap();
    let files = std::fs::read_dir(fx.outputs().join(day_dir(ImageKind::Txt2img)))
        .unwrap()
        .count();
    assert_eq!(files, 30);
    store.reconcile().wait_blocking().unwrap();
    assert_eq!(all(&store).len(), 30);
    let mut paths: Vec<String> = all(&store).into_iter().map(|r| r.path).collect();
    paths.dedup();
    assert_eq!(paths.len(), 30);
}

#[test]
fn rebuilding_from_the_files_gives_the_same_rows() {
    let fx = Fixture::new();
    let store = fx.open();
    store
        .save(job(ImageKind::Txt2img, "j1"), vec![image("one", 1), image("two", 2)])
        .wait_blocking()
        .unwrap();
    store
        .save(job(ImageKind::Img2img, "j2"), vec![image("three 猫", 3)])
        .wait_blocking()
        .unwrap();
    let before = all(&store);
    drop(store);
    let index = fx.config().index_path;
    for ext in ["sqlite", "sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(index.with_extension(ext));
    }
    let store = fx.open();
    assert_eq!(all(&store), before);
    // A damaged index is moved aside and rebuilt too.
    drop(store);
    for ext in ["sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(index.with_extension(ext));
    }
    std::fs::write(
        &index,
        b"this is not a database, just garbage bytes of some length........",
    )
    .unwrap();
    let store = fx.open();
    assert_eq!(all(&store), before);
}

#[test]
fn a_stale_index_reconciles() {
    let fx = Fixture::new();
    let store = fx.open();
    let ids = store
        .save(job(ImageKind::Txt2img, "j"), vec![image("keep", 1), image("gone", 2)])
        .wait_blocking()
        .unwrap();
    let rows = all(&store);
    let thumb = store.thumbnail(ids[1]).unwrap();
    assert!(!thumb.is_empty());
    // Behind its back: one file deleted, one added (also in a new folder), a temporary and a hidden one.
    std::fs::remove_file(fx.outputs().join(&rows[1].path)).unwrap();
    let extra = fx.outputs().join("txt2img-images/2020-01-01");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("00000-77.png"), png("added", 77, "DDIM", "other")).unwrap();
    std::fs::write(extra.join(".00001-78.png.abc.tmp"), png("half", 78, "DDIM", "other")).unwrap();
    std::fs::write(extra.join(".hidden.png"), png("hidden", 79, "DDIM", "other")).unwrap();
    std::fs::write(extra.join("00002-80.png"), b"not an image").unwrap();
    // The gone file answers "not found" before any reconcile.
    assert!(matches!(store.file(ids[1]), Err(StoreError::NotFound(_))));
    let report = store.reconcile().wait_blocking().unwrap();
    assert_eq!(
        (report.added, report.removed, report.unchanged, report.unreadable),
        (1, 1, 1, 1)
    );
    let rows = all(&store);
    let prompts: Vec<&str> = rows.iter().map(|r| r.prompt.as_str()).collect();
    assert_eq!(prompts, ["keep", "added"]);
    assert_eq!(
        rows[1].created_at.len(),
        24,
        "file time for an image without sdgate's chunk"
    );
    // A changed file is re-read; an unchanged index stays as it is on a restart.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(extra.join("00000-77.png"), png("changed", 77, "DDIM", "other")).unwrap();
    let report = store.reconcile().wait_blocking().unwrap();
    assert_eq!((report.updated, report.unchanged), (1, 1));
    let id_of_changed = all(&store)[1].id;
    drop(store);
    let store = fx.open();
    let rows = all(&store);
    assert_eq!((rows[1].prompt.as_str(), rows[1].id), ("changed", id_of_changed));
}

#[test]
fn temporary_files_are_never_indexed_and_stale_ones_are_cleaned() {
    let fx = Fixture::new();
    let dir = fx.outputs().join("txt2img-images/2024-01-01");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(".00000-1.png.0123.tmp");
    std::fs::write(&tmp, png("half", 1, "Euler", "m")).unwrap();
    std::fs::write(dir.join("00000-1.png.tmp"), png("half", 1, "Euler", "m")).unwrap();
    let store = fx.open();
    assert!(all(&store).is_empty());
    assert!(
        tmp.is_file(),
        "a fresh temporary file may belong to a write in progress"
    );
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let report = store.reconcile().wait_blocking().unwrap();
    assert_eq!(report.temp_removed, 1);
    assert!(!tmp.exists());
    assert!(all(&store).is_empty());
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_not_followed() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("secret");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("s.png"), png("secret", 1, "Euler", "m")).unwrap();
    let store = fx.open();
    let day = fx.outputs().join("txt2img-images/2024-01-01");
    std::fs::create_dir_all(&day).unwrap();
    std::os::unix::fs::symlink(outside.join("s.png"), day.join("00000-1.png")).unwrap();
    std::os::unix::fs::symlink(&outside, fx.outputs().join("linked-folder")).unwrap();
    let report = store.reconcile().wait_blocking().unwrap();
    assert_eq!(report.added, 0);
    assert!(all(&store).is_empty());
    let root = store.outputs();
    assert!(root.resolve("txt2img-images/2024-01-01/00000-1.png").is_none());
    assert!(root.resolve("linked-folder/s.png").is_none());
    assert!(root.resolve("../secret/s.png").is_none());
    assert!(root.resolve(&outside.join("s.png").to_string_lossy()).is_none());
    // A real file is fine.
    std::fs::write(day.join("00001-2.png"), png("fine", 2, "Euler", "m")).unwrap();
    assert!(root.resolve("txt2img-images/2024-01-01/00001-2.png").is_some());
}

#[test]
fn delete_removes_file_thumbnail_and_row() {
    let fx = Fixture::new();
    let store = fx.open();
    let ids = store
        .save(job(ImageKind::Txt2img, "j"), vec![image("bye", 1)])
        .wait_blocking()
        .unwrap();
    let (row, path) = store.file(ids[0]).unwrap();
    store.thumbnail(ids[0]).unwrap();
    let thumb = store.thumbs.path_for(
        &row.path,
        FileStat {
            size: row.file_size,
            mtime_ns: row.mtime_ns,
        },
    );
    assert!(thumb.is_file());
    assert!(store.delete(ids[0]).wait_blocking().unwrap());
    assert!(!path.exists() && !thumb.exists());
    assert!(store.get(ids[0]).unwrap().is_none());
    assert!(!store.delete(ids[0]).wait_blocking().unwrap());
    // Ids are never reused.
    let again = store
        .save(job(ImageKind::Txt2img, "j"), vec![image("new", 2)])
        .wait_blocking()
        .unwrap();
    assert!(again[0] > ids[0]);
}

#[test]
fn search_filters_paging_and_facets() {
    let fx = Fixture::new();
    let store = fx.open();
    let mk = |prompt: &str, seed, sampler: &str, model: &str| SaveImage {
        png: png(prompt, seed, sampler, model),
        seed,
    };
    let mut late = job(ImageKind::Txt2img, "j1");
    late.created = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
    store
        .save(
            job(ImageKind::Txt2img, "j0"),
            vec![mk("a red cat", 1, "Euler a", "m1"), mk("a blue dog", 2, "DDIM", "m1")],
        )
        .wait_blocking()
        .unwrap();
    store
        .save(
            late,
            vec![
                mk("red_ball 100% red", 3, "DDIM", "m2"),
                mk("RED CAT, 猫", 4, "Euler a", "m2"),
            ],
        )
        .wait_blocking()
        .unwrap();
    let q = |f: &dyn Fn(&mut ImageQuery)| {
        let mut q = ImageQuery {
            limit: 50,
            ..ImageQuery::default()
        };
        f(&mut q);
        let page = store.list(&q).unwrap();
        (
            page.images.into_iter().map(|r| r.seed.unwrap()).collect::<Vec<_>>(),
            page.total,
        )
    };
    assert_eq!(q(&|_| {}), (vec![4, 3, 2, 1], 4), "newest first");
    assert_eq!(q(&|q| q.words = vec!["red".into(), "cat".into()]), (vec![4, 1], 2));
    assert_eq!(q(&|q| q.words = vec!["猫".into()]), (vec![4], 1));
    assert_eq!(q(&|q| q.words = vec!["100%".into()]), (vec![3], 1), "% is literal");
    assert_eq!(q(&|q| q.words = vec!["r_d".into()]), (vec![], 0), "_ is literal");
    assert_eq!(q(&|q| q.words = vec!["red_".into()]), (vec![3], 1));
    assert_eq!(q(&|q| q.sampler = Some("DDIM".into())), (vec![3, 2], 2));
    assert_eq!(
        q(&|q| {
            q.model = Some("m2".into());
            q.sampler = Some("Euler a".into());
        }),
        (vec![4], 1)
    );
    let late_day = Utc
        .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(q(&|q| q.from = Some(late_day.clone())), (vec![4, 3], 2));
    assert_eq!(q(&|q| q.to = Some("2024-05-31".into())), (vec![2, 1], 2));
    assert_eq!(q(&|q| q.job_id = Some("j0".into())), (vec![2, 1], 2));
    assert_eq!(
        q(&|q| {
            q.offset = 1;
            q.limit = 2;
        }),
        (vec![3, 2], 4)
    );
    assert_eq!(q(&|q| q.oldest_first = true), (vec![1, 2, 3, 4], 4));
    let f = store.facets().unwrap();
    let vals = |v: &[FacetCount]| v.iter().map(|c| (c.value.clone(), c.count)).collect::<Vec<_>>();
    assert_eq!(vals(&f.models), [("m1".into(), 2), ("m2".into(), 2)]);
    assert_eq!(vals(&f.samplers), [("DDIM".into(), 2), ("Euler a".into(), 2)]);
    assert_eq!(f.days.len(), 2);
    assert_eq!(f.days[0].value, late_day);
    assert_eq!((f.total, vals(&f.kinds)), (4, vec![("txt2img".into(), 4)]));
}

#[test]
fn the_policy_decides_what_is_saved() {
    use crate::jobs::{JobKind, JobMeta, JobOrigin, JobRecord};
    let fx = Fixture::new();
    let mut config = fx.config();
    let record = |save: Option<bool>| {
        let mut parameters = serde_json::json!({"prompt": "x"});
        if let Some(s) = save {
            parameters["save_images"] = s.into();
        }
        JobRecord::new(
            uuid::Uuid::new_v4(),
            JobMeta {
                kind: JobKind::Txt2img,
                origin: JobOrigin::Native,
                model: "m".into(),
                image_count: 1,
                parameters,
            },
        )
    };
    let store = GalleryStore::open(config.clone()).unwrap();
    assert!(store.wants(&record(None)) && store.wants(&record(Some(false))));
    drop(store);
    config.policy = SavePolicy::OnRequest;
    let store = GalleryStore::open(config).unwrap();
    assert!(!store.wants(&record(None)) && !store.wants(&record(Some(false))));
    assert!(store.wants(&record(Some(true))));
}

#[test]
fn opening_fails_clearly_when_the_folder_cannot_be_made() {
    let fx = Fixture::new();
    let file = fx.dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = GalleryStore::open(StoreConfig::new(&fx.dir.path().join("d"), &file.join("outputs"))).unwrap_err();
    assert!(err.to_string().contains("a-file"), "{err}");
}
