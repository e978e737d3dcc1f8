//! The gallery over HTTP on the fake backend: generated images are saved and indexed; list, search,
//! filters, detail, files, thumbnails, delete, facets; ids only (traversal attempts and symbolic links
//! get 404); --api-auth covers the page, its assets, files and thumbnails; --nowebui and --no-save.

#[macro_use]
mod common;

use std::sync::Arc;

use actix_web::test::{self, TestRequest};
use common::*;
use sdgate::api::{ApiSettings, AppState, build_app};
use sdgate::store::{GalleryStore, SavePolicy, StoreConfig};
use serde_json::{Value, json};

struct Gallery {
    h: Harness,
    state: AppState,
    store: Arc<GalleryStore>,
}

impl Gallery {
    fn outputs(&self) -> std::path::PathBuf {
        self.h.dir.path().join("outputs")
    }
}

fn gallery_with(settings: ApiSettings, policy: SavePolicy) -> Gallery {
    let h = harness_with(settings, FakeConfig::default());
    let mut config = StoreConfig::new(&h.dir.path().join("data"), &h.dir.path().join("outputs"));
    config.policy = policy;
    let store = GalleryStore::open(config).unwrap();
    let state = h.state.clone().with_gallery(store.clone());
    Gallery { h, state, store }
}

fn gallery() -> Gallery {
    gallery_with(ApiSettings::default(), SavePolicy::Always)
}

fn txt2img(prompt: &str, seed: u64, sampler: &str) -> Value {
    json!({"prompt": prompt, "negative_prompt": "ugly", "seed": seed, "steps": 2, "width": 64, "height": 64,
           "sampler_name": sampler, "batch_size": 2})
}

macro_rules! generate {
    ($app:expr, $body:expr) => {{
        let (status, v) = call_json!($app, TestRequest::post().uri("/sdapi/v1/txt2img").set_json($body));
        assert_eq!(status, 200, "{v}");
        v
    }};
}

/// GET a URI: (status, headers, body bytes).
macro_rules! get_raw {
    ($app:expr, $uri:expr) => {{
        let res = test::call_service($app, TestRequest::get().uri(&$uri).to_request()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, test::read_body(res).await.to_vec())
    }};
}

macro_rules! list {
    ($app:expr, $query:expr) => {{
        let (status, v) = call_json!($app, TestRequest::get().uri(&format!("/v1/gallery/images?{}", $query)));
        assert_eq!(status, 200, "{v}");
        v
    }};
}

fn seeds(page: &Value) -> Vec<i64> {
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seed"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn generated_images_are_saved_listed_and_searchable() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("a red cat", 10, "Euler a"));
    generate!(&app, txt2img("a blue dog, café", 20, "DDIM"));
    // The response comes after the save: the images are there at once.
    let page = list!(&app, "");
    assert_eq!(page["total"], 4);
    assert_eq!(seeds(&page), [21, 20, 11, 10], "newest first");
    let img = &page["images"][3];
    let day = img["day"].as_str().unwrap();
    assert_eq!(img["path"], format!("txt2img-images/{day}/00000-10.png"));
    assert_eq!(page["images"][0]["path"], format!("txt2img-images/{day}/00003-21.png"));
    assert_eq!(img["prompt"], "a red cat");
    assert_eq!(img["negative_prompt"], "ugly");
    assert_eq!(img["sampler"], "Euler a");
    assert_eq!(img["model"], "model-a");
    assert_eq!(img["kind"], "txt2img");
    assert_eq!((img["width"].as_i64(), img["height"].as_i64()), (Some(64), Some(64)));
    assert!(img["job_id"].as_str().is_some_and(|j| j.len() == 36));
    assert!(g.outputs().join(img["path"].as_str().unwrap()).is_file());

    assert_eq!(seeds(&list!(&app, "q=cat")), [11, 10]);
    assert_eq!(
        seeds(&list!(&app, "q=BLUE%20caf%C3%A9")),
        [21, 20],
        "words ANDed, ASCII case folded"
    );
    assert_eq!(seeds(&list!(&app, "q=cat%20dog")), Vec::<i64>::new());
    assert_eq!(seeds(&list!(&app, "sampler=DDIM")), [21, 20]);
    assert_eq!(seeds(&list!(&app, "model=model-a&sampler=Euler%20a")), [11, 10]);
    assert_eq!(seeds(&list!(&app, "model=model-b")), Vec::<i64>::new());
    assert_eq!(seeds(&list!(&app, format!("from={day}&to={day}"))), [21, 20, 11, 10]);
    assert_eq!(seeds(&list!(&app, "to=2000-01-01")), Vec::<i64>::new());
    assert_eq!(seeds(&list!(&app, "order=oldest&offset=1&limit=2")), [11, 20]);
    let p = list!(&app, "offset=3&limit=2");
    assert_eq!(
        (seeds(&p), p["total"].as_i64(), p["offset"].as_i64()),
        (vec![10], Some(4), Some(3))
    );
    let job = img["job_id"].as_str().unwrap();
    assert_eq!(seeds(&list!(&app, format!("job={job}"))), [11, 10]);

    for bad in [
        "limit=0",
        "limit=201",
        "from=yesterday",
        "to=2024-13-01",
        "order=random",
        "offset=-1",
    ] {
        let (status, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/gallery/images?{bad}")));
        assert_eq!(status, 422, "{bad}: {v}");
    }

    let (status, f) = call_json!(&app, TestRequest::get().uri("/v1/gallery/facets"));
    assert_eq!(status, 200);
    assert_eq!(f["models"], json!([{"value": "model-a", "count": 4}]));
    assert_eq!(
        f["samplers"],
        json!([{"value": "DDIM", "count": 2}, {"value": "Euler a", "count": 2}])
    );
    assert_eq!(f["days"], json!([{"value": day, "count": 4}]));
    assert_eq!(f["total"], 4);
}

#[actix_web::test]
async fn native_jobs_are_saved_before_they_report_done() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    let mut body = txt2img("native", 5, "Euler");
    body["type"] = "txt2img".into();
    let (status, v) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(body));
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let jobs = g.state.jobs.clone();
    let uuid: uuid::Uuid = id.parse().unwrap();
    eventually(|| jobs.get(uuid).is_some_and(|r| r.state.is_final())).await;
    // Final means saved.
    let page = list!(&app, format!("job={id}"));
    assert_eq!(seeds(&page), [6, 5]);
}

#[actix_web::test]
async fn detail_file_thumbnail_and_delete() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("to inspect", 7, "Euler"));
    let page = list!(&app, "");
    let id = page["images"][1]["id"].as_i64().unwrap();
    assert_eq!(page["images"][1]["url"], format!("/v1/gallery/images/{id}/file"));

    let (status, d) = call_json!(&app, TestRequest::get().uri(&format!("/v1/gallery/images/{id}")));
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        d["infotext"],
        "to inspect\nNegative prompt: ugly\nSteps: 2, Sampler: Euler, Schedule type: Automatic, CFG scale: 7, \
         Seed: 7, Size: 64x64, Model: model-a"
    );
    let params: Vec<(String, String)> = d["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap().into(), p["value"].as_str().unwrap().into()))
        .collect();
    assert_eq!(params[0], ("Steps".into(), "2".into()));
    assert!(params.contains(&("Size-1".into(), "64".into())));
    assert_eq!(d["seed"], 7);

    let (status, headers, png) = get_raw!(&app, format!("/v1/gallery/images/{id}/file"));
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "image/png");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    let disposition = headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(disposition, "inline; filename=\"00000-7.png\"");
    let meta = sdgate::images::read_metadata(&png, &sdgate::images::Limits::default()).unwrap();
    assert_eq!(meta.infotext.unwrap(), d["infotext"].as_str().unwrap());
    let (_, headers, _) = get_raw!(&app, format!("/v1/gallery/images/{id}/file?download=1"));
    assert!(
        headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    let (status, headers, jpeg) = get_raw!(&app, format!("/v1/gallery/images/{id}/thumb"));
    assert_eq!(
        (status, headers.get("content-type").unwrap().to_str().unwrap()),
        (200, "image/jpeg")
    );
    assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
    let thumbs = || std::fs::read_dir(g.h.dir.path().join("data/thumbs")).unwrap().count();
    assert_eq!(thumbs(), 1);

    let path = g.outputs().join(d["path"].as_str().unwrap());
    assert!(path.is_file());
    let (status, v) = call_json!(&app, TestRequest::delete().uri(&format!("/v1/gallery/images/{id}")));
    assert_eq!((status.as_u16(), &v), (200, &json!({"id": id, "deleted": true})));
    assert!(!path.exists(), "the file is gone");
    assert_eq!(thumbs(), 0, "the thumbnail is gone");
    for uri in [
        format!("/v1/gallery/images/{id}"),
        format!("/v1/gallery/images/{id}/file"),
        format!("/v1/gallery/images/{id}/thumb"),
    ] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(&uri));
        assert_eq!(status, 404, "{uri}");
    }
    let (status, _) = call_json!(&app, TestRequest::delete().uri(&format!("/v1/gallery/images/{id}")));
    assert_eq!(status, 404);
    assert_eq!(list!(&app, "")["total"], 1);
}

#[actix_web::test]
async fn traversal_attempts_get_404() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("x", 1, "Euler"));
    let secret = g.h.dir.path().join("secret.txt");
    std::fs::write(&secret, "root:x:0:0 TOP SECRET").unwrap();
    let attempts = [
        "/v1/gallery/images/../../../../etc/passwd",
        "/v1/gallery/images/..%2F..%2F..%2Fetc%2Fpasswd/file",
        "/v1/gallery/images/%2e%2e%2f%2e%2e%2fsecret.txt/file",
        "/v1/gallery/images/%2e%2e/file",
        "/v1/gallery/images/..%5c..%5csecret.txt/file",
        "/v1/gallery/images/%2Fetc%2Fpasswd/file",
        "/v1/gallery/images/%2Fetc%2Fpasswd",
        "/v1/gallery/images//etc/passwd",
        "/v1/gallery/images/1%2F..%2F2/file",
        "/v1/gallery/images/1/../../secret.txt",
        "/v1/gallery/images/1/file/../../../secret.txt",
        "/v1/gallery/images/-1/file",
        "/v1/gallery/images/0/thumb",
        "/v1/gallery/images/1e3/file",
        "/v1/gallery/images/99999999999999999999/file",
        "/v1/gallery/images/999/file",
        "/v1/gallery/images/txt2img-images/file",
        "/gallery/assets/..%2F..%2FCargo.toml",
        "/gallery/assets/%2e%2e%2f%2e%2e%2fsrc%2fmain.rs",
        "/gallery/assets/../../Cargo.toml",
        "/gallery/assets/%2Fetc%2Fpasswd",
        "/gallery/assets/app.js%00.txt",
        "/gallery/locales/..%2F..%2FCargo.toml",
        "/gallery/locales/%2e%2e%2fen.json",
        "/file=/etc/passwd",
        "/file=outputs/txt2img-images",
        "/outputs/txt2img-images",
    ];
    for uri in attempts {
        let (status, _, body) = get_raw!(&app, uri);
        assert_eq!(status, 404, "{uri}");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("TOP SECRET") && !text.contains("[package]") && !text.contains("root:x"),
            "{uri}"
        );
    }
    // A query parameter naming a path is simply not a filter.
    let page = list!(&app, "path=/etc/passwd&file=../secret.txt");
    assert_eq!(page["total"], 2);
}

#[cfg(unix)]
#[actix_web::test]
async fn symbolic_links_in_the_outputs_folder_are_not_followed() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("real", 1, "Euler"));
    let page = list!(&app, "");
    let id = page["images"][1]["id"].as_i64().unwrap();
    let path = g.outputs().join(page["images"][1]["path"].as_str().unwrap());
    // Outside the outputs folder: a file that would be served if links were followed.
    let outside = g.h.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("secret.png"),
        png(8, 8, 3, "SECRET prompt\nSteps: 1, Sampler: Euler, Seed: 3"),
    )
    .unwrap();
    // The indexed file swapped for a link to it behind the index's back.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.png"), &path).unwrap();
    for suffix in ["/file", "/thumb"] {
        let (status, _, body) = get_raw!(&app, format!("/v1/gallery/images/{id}{suffix}"));
        assert_eq!(status, 404, "{suffix}");
        assert!(!String::from_utf8_lossy(&body).contains("SECRET"));
    }
    // A linked folder and a linked file placed in the outputs folder are never indexed.
    std::os::unix::fs::symlink(&outside, g.outputs().join("txt2img-images/linked")).unwrap();
    let day = path.parent().unwrap();
    std::os::unix::fs::symlink(outside.join("secret.png"), day.join("00099-3.png")).unwrap();
    let (status, report) = call_json!(&app, TestRequest::post().uri("/v1/gallery/reconcile"));
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["added"].as_i64(), report["removed"].as_i64()),
        (Some(0), Some(1))
    );
    let page = list!(&app, "");
    assert_eq!(page["total"], 1);
    assert_eq!(seeds(&list!(&app, "q=SECRET")), Vec::<i64>::new());
    // The delete route removes the row without touching what a link points to.
    assert!(outside.join("secret.png").is_file());
}

#[actix_web::test]
async fn files_added_or_removed_by_hand_reconcile() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("first", 1, "Euler"));
    let page = list!(&app, "");
    std::fs::remove_file(g.outputs().join(page["images"][0]["path"].as_str().unwrap())).unwrap();
    let dir = g.outputs().join("img2img-images/2020-02-02");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("00000-42.png"),
        png(16, 16, 42, "by hand\nSteps: 3, Sampler: DDIM, Seed: 42"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".00001-43.png.0a1b.tmp"),
        png(16, 16, 43, "half written\nSteps: 3, Sampler: DDIM, Seed: 43"),
    )
    .unwrap();
    let (status, report) = call_json!(&app, TestRequest::post().uri("/v1/gallery/reconcile"));
    assert_eq!(status, 200);
    assert_eq!(
        (report["added"].as_i64(), report["removed"].as_i64()),
        (Some(1), Some(1))
    );
    // A file without sdgate's chunk counts as made when it was last modified (now: the newest).
    let page = list!(&app, "");
    assert_eq!(seeds(&page), [42, 1]);
    assert_eq!(page["images"][0]["kind"], "img2img");
    assert_eq!(page["images"][0]["job_id"], Value::Null);
    assert_eq!(
        seeds(&list!(&app, "q=half")),
        Vec::<i64>::new(),
        "a temporary file is never indexed"
    );
    // Facets follow.
    let (_, f) = call_json!(&app, TestRequest::get().uri("/v1/gallery/facets"));
    assert_eq!(
        f["kinds"],
        json!([{"value": "img2img", "count": 1}, {"value": "txt2img", "count": 1}])
    );
}

#[actix_web::test]
async fn credentials_cover_the_page_assets_files_and_thumbnails() {
    let settings = ApiSettings {
        auth: Some("alice:wonderland".parse().unwrap()),
        ..ApiSettings::default()
    };
    let g = gallery_with(settings, SavePolicy::Always);
    let app = test::init_service(build_app(g.state.clone())).await;
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .insert_header(("authorization", basic("alice:wonderland")))
            .set_json(txt2img("secret", 1, "Euler"))
    );
    assert_eq!(status, 200);
    let rows = g
        .store
        .list(&sdgate::store::ImageQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let id = rows.images[0].id;
    let uris = [
        "/".to_string(),
        "/gallery".into(),
        "/gallery/assets/app.js".into(),
        "/gallery/assets/app.css".into(),
        "/gallery/locales".into(),
        "/gallery/locales/zh-CN.json".into(),
        "/v1/gallery/images".into(),
        "/v1/gallery/facets".into(),
        format!("/v1/gallery/images/{id}"),
        format!("/v1/gallery/images/{id}/file"),
        format!("/v1/gallery/images/{id}/thumb"),
    ];
    for uri in &uris {
        for header in [None, Some(basic("alice:wrong"))] {
            let mut req = TestRequest::get().uri(uri);
            if let Some(h) = &header {
                req = req.insert_header(("authorization", h.as_str()));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), 401, "{uri} with {header:?}");
            let body = test::read_body(res).await;
            assert!(!String::from_utf8_lossy(&body).contains("secret"), "{uri}");
        }
        let res = test::call_service(
            &app,
            TestRequest::get()
                .uri(uri)
                .insert_header(("authorization", basic("alice:wonderland")))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200, "{uri} with credentials");
    }
    for req in [
        TestRequest::delete().uri(&format!("/v1/gallery/images/{id}")),
        TestRequest::post().uri("/v1/gallery/reconcile"),
    ] {
        let (status, _) = call_json!(&app, req);
        assert_eq!(status, 401);
    }
    assert!(
        g.store.get(id).unwrap().is_some(),
        "nothing deleted without credentials"
    );
}

#[actix_web::test]
async fn the_page_is_embedded_localized_and_can_be_turned_off() {
    let g = gallery();
    let app = test::init_service(build_app(g.state.clone())).await;
    for uri in ["/", "/gallery"] {
        let (status, headers, body) = get_raw!(&app, uri);
        assert_eq!(status, 200, "{uri}");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{uri}");
        assert!(html.contains("/gallery/assets/app.js") && html.contains("\"strings\":{"));
        assert!(
            headers
                .get("content-security-policy")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
    }
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/")
            .insert_header(("accept-language", "zh-TW,zh;q=0.9,en;q=0.5"))
            .to_request(),
    )
    .await;
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">") && html.contains("搜索提示词"));
    for (uri, ty) in [
        ("/gallery/assets/app.js", "text/javascript; charset=utf-8"),
        ("/gallery/assets/app.css", "text/css; charset=utf-8"),
        ("/gallery/assets/favicon.svg", "image/svg+xml"),
        ("/gallery/locales/en.json", "application/json"),
        ("/gallery/locales/zh-CN.json", "application/json"),
    ] {
        let (status, headers, body) = get_raw!(&app, uri);
        assert_eq!(
            (status, headers.get("content-type").unwrap().to_str().unwrap()),
            (200, ty),
            "{uri}"
        );
        assert!(!body.is_empty());
    }
    let (status, langs) = call_json!(&app, TestRequest::get().uri("/gallery/locales"));
    assert_eq!(status, 200);
    assert_eq!(langs["default"], "en");
    assert_eq!(langs["languages"][1], json!({"code": "zh-CN", "name": "简体中文"}));
    for uri in [
        "/gallery/assets/nope.js",
        "/gallery/locales/fr.json",
        "/gallery/locales/en",
    ] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(uri));
        assert_eq!(status, 404, "{uri}");
    }

    // --nowebui: no page, no assets; the JSON API stays.
    let g = gallery_with(
        ApiSettings {
            webui_page: false,
            ..ApiSettings::default()
        },
        SavePolicy::Always,
    );
    let app = test::init_service(build_app(g.state.clone())).await;
    for uri in [
        "/",
        "/gallery",
        "/gallery/assets/app.js",
        "/gallery/locales",
        "/gallery/locales/en.json",
    ] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(uri));
        assert_eq!(status, 404, "{uri}");
    }
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/gallery/images"));
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn without_a_store_the_gallery_api_answers_404() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for uri in ["/v1/gallery/images", "/v1/gallery/images/1", "/v1/gallery/facets"] {
        let (status, v) = call_json!(&app, TestRequest::get().uri(uri));
        assert_eq!(status, 404, "{uri}: {v}");
    }
    let (status, _) = call_json!(&app, TestRequest::get().uri("/"));
    assert_eq!(status, 200, "the page itself still loads");
}

#[actix_web::test]
async fn no_save_keeps_only_what_requests_ask_for() {
    let g = gallery_with(ApiSettings::default(), SavePolicy::OnRequest);
    let app = test::init_service(build_app(g.state.clone())).await;
    generate!(&app, txt2img("not kept", 1, "Euler"));
    let mut body = txt2img("not kept either", 3, "Euler");
    body["save_images"] = false.into();
    generate!(&app, body);
    let mut body = txt2img("kept", 5, "Euler");
    body["save_images"] = true.into();
    generate!(&app, body);
    let page = list!(&app, "");
    assert_eq!(seeds(&page), [6, 5]);
    assert_eq!(page["images"][0]["prompt"], "kept");
}
