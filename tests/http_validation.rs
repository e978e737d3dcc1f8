//! Bad input gets a clear 4xx (never a 500, a panic or an unbounded allocation), and nothing
//! invalid reaches the backend.

#[macro_use]
mod common;

use actix_web::test::{self, TestRequest};
use common::*;
use sdgate::api::{ApiSettings, build_app};
use serde_json::{Value, json};

fn detail(v: &Value) -> String {
    v["detail"].as_str().unwrap_or_default().to_string()
}

#[actix_web::test]
async fn bad_requests_are_422_with_the_field() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"width": 7}), "width", "multiple of 8"),
        (json!({"height": 0}), "height", "multiple of 8"),
        (json!({"width": -512}), "width", "multiple of 8"),
        (json!({"width": 100000, "height": 100000}), "width", "up to 2048"),
        (
            json!({"width": 2048, "height": 2048, "batch_size": 1, "steps": 1, "enable_hr": true}),
            "hr_scale",
            "2048",
        ),
        (
            json!({"width": 1024, "height": 1024, "batch_size": 2}),
            "width",
            "latent pixels",
        ),
        (json!({"width": 2048, "height": 1024}), "width", "--max-latent-pixels"),
        (
            json!({"width": 1024, "height": 1024, "enable_hr": true, "hr_scale": 2}),
            "hr_scale",
            "latent pixels",
        ),
        (json!({"steps": 10000}), "steps", "from 1 to 150"),
        (json!({"steps": 0}), "steps", "from 1 to 150"),
        (json!({"batch_size": 10000}), "batch_size", "from 1 to 16"),
        (json!({"n_iter": 100000000}), "n_iter", "from 1 to 100"),
        (json!({"batch_size": 16, "n_iter": 100}), "n_iter", "at most 100 images"),
        (json!({"cfg_scale": 1e308}), "cfg_scale", "from 0 to 100"),
        (json!({"sampler_name": "Euler z"}), "sampler_name", "valid samplers"),
        (json!({"sampler_index": "nope"}), "sampler_index", "valid samplers"),
        (json!({"scheduler": "Wobbly"}), "scheduler", "valid schedules"),
        (json!({"seed": -5}), "seed", "non-negative"),
        (json!({"subseed_strength": 2}), "subseed_strength", "from 0 to 1"),
        (
            json!({"denoising_strength": -1, "enable_hr": true}),
            "denoising_strength",
            "from 0 to 1",
        ),
        (
            json!({"override_settings": {"sd_model_checkpoint": "missing"}}),
            "override_settings.sd_model_checkpoint",
            "not found",
        ),
        (
            json!({"override_settings": {"CLIP_stop_at_last_layers": 13}}),
            "override_settings.CLIP_stop_at_last_layers",
            "12 layers",
        ),
        (
            json!({"override_settings": {"randn_source": "TPU"}}),
            "override_settings.randn_source",
            "GPU",
        ),
        (
            json!({"script_name": "x/y/z plot"}),
            "script_name",
            "no selectable scripts",
        ),
        (
            json!({"hr_upscaler": "ESRGAN_4x", "enable_hr": true}),
            "hr_upscaler",
            "unknown upscaler",
        ),
        (json!({"prompt": "x".repeat(20_001)}), "prompt", "20000 characters"),
        (json!({"steps": "many"}), "steps", "expected an integer"),
        (json!({"steps": 1.5}), "steps", "expected an integer"),
        (json!({"enable_hr": "perhaps"}), "enable_hr", "true or false"),
        (json!({"styles": "not a list"}), "styles", "invalid type"),
    ];
    for (body, field, needle) in cases {
        let (status, v) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/txt2img").set_json(&body));
        assert_eq!(status, 422, "{body}: {v}");
        assert_eq!(v["type"], "validation_error", "{body}: {v}");
        let fields = v["fields"].as_array().unwrap();
        assert!(
            fields.iter().any(|f| f["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
                == format!("body.{field}")),
            "{body}: expected field {field} in {v}"
        );
        assert!(
            detail(&v).contains(needle),
            "{body}: expected {needle:?} in {}",
            detail(&v)
        );
    }
    assert!(h.backend.accepted().is_empty(), "nothing invalid was queued");
}

#[actix_web::test]
async fn all_problems_are_reported_at_once() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"width": 7, "steps": 0, "sampler_name": "bogus"}))
    );
    assert_eq!(status, 422);
    assert_eq!(v["fields"].as_array().unwrap().len(), 3, "{v}");
}

#[actix_web::test]
async fn malformed_and_oversized_bodies() {
    let settings = ApiSettings {
        max_body_bytes: 4096,
        ..ApiSettings::default()
    };
    let h = harness_with(settings, FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    for body in ["{", "{\"prompt\": }", "[1,2", "", "   ", "\u{0}"] {
        let (status, v) = call_json!(
            &app,
            TestRequest::post()
                .uri("/sdapi/v1/txt2img")
                .insert_header(("content-type", "application/json"))
                .set_payload(body)
        );
        assert_eq!(status, 422, "{body:?}: {v}");
        assert_eq!(v["type"], "malformed_json", "{body:?}: {v}");
    }
    // A JSON value that is not an object.
    let (status, v) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/txt2img").set_payload("[1, 2]"));
    assert_eq!(status, 422, "{v}");
    // No content type at all still parses.
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_payload("{\"steps\": 1, \"width\": 64, \"height\": 64}")
    );
    assert_eq!(status, 200);
    // Too large, declared or streamed.
    let big = format!("{{\"prompt\": \"{}\"}}", "x".repeat(10_000));
    let (status, v) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/txt2img").set_payload(big.clone())
    );
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["type"], "payload_too_large");
    let (status, _) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_payload(big));
    assert_eq!(status, 413);
    let (status, _) = call_json!(
        &app,
        TestRequest::post().uri("/sdapi/v1/options").set_payload("nonsense")
    );
    assert_eq!(status, 422);
}

#[actix_web::test]
async fn bad_images_are_422() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let cases = vec![
        (json!({"init_images": []}), "init_images"),
        (json!({}), "init_images"),
        (json!({"init_images": ["!!!not base64"]}), "init_images[0]"),
        (json!({"init_images": ["aGVsbG8="]}), "init_images[0]"),
        (json!({"init_images": [b64_png(8, 8), b64_png(8, 8)]}), "init_images"),
        (json!({"init_images": [b64_png(8, 8)], "mask": "???"}), "mask"),
        (json!({"init_images": [b64_png(8, 8)], "resize_mode": 9}), "resize_mode"),
        (
            json!({"init_images": [b64_png(8, 8)], "inpainting_fill": 4}),
            "inpainting_fill",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/img2img").set_json(&body));
        assert_eq!(status, 422, "{v}");
        let locs: Vec<String> = v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["loc"][1].as_str().unwrap().to_string())
            .collect();
        assert!(locs.contains(&field.to_string()), "{field} not in {locs:?}: {v}");
    }
    assert!(h.backend.accepted().is_empty());
}

#[actix_web::test]
async fn huge_images_are_refused_before_decoding() {
    let mut settings = ApiSettings::default();
    settings.limits.image.max_side = 64;
    let h = harness_with(settings, FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/img2img")
            .set_json(json!({"init_images": [b64_png(128, 8)]}))
    );
    assert_eq!(status, 422, "{v}");
    assert!(detail(&v).contains("128x8"), "{v}");
}

#[actix_web::test]
async fn native_job_requests_are_validated_too() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(
        &app,
        TestRequest::post()
            .uri("/v1/jobs")
            .set_json(json!({"prompt": "no type"}))
    );
    assert_eq!(status, 422, "{v}");
    assert!(detail(&v).contains("type"), "{v}");
    let (status, _) = call_json!(
        &app,
        TestRequest::post().uri("/v1/jobs").set_json(json!({"type": "video"}))
    );
    assert_eq!(status, 422);
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/v1/jobs")
            .set_json(json!({"type": "txt2img", "width": 7}))
    );
    assert_eq!(status, 422);
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/jobs?state=sleeping"));
    assert_eq!(status, 422);
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/jobs?limit=0"));
    assert_eq!(status, 422);
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/jobs?limit=abc"));
    assert_eq!(status, 422);
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/jobs/not-a-uuid"));
    assert_eq!(status, 404);
    let (status, _) = call_json!(&app, TestRequest::get().uri("/v1/images/../../etc/passwd"));
    assert_eq!(status, 404);
    let (status, _) = call_json!(
        &app,
        TestRequest::get().uri(&format!("/v1/images/{}/0.png", uuid::Uuid::new_v4()))
    );
    assert_eq!(status, 404);
    let (status, _) = call_json!(
        &app,
        TestRequest::get().uri("/sdapi/v1/progress?skip_current_image=maybe")
    );
    assert_eq!(status, 422);
    assert!(h.backend.accepted().is_empty());
}

/// The WebUI (pydantic) reads 1/0, yes/no, on/off as booleans in queries; so does sdgate, and
/// anything else is a documented 422.
#[actix_web::test]
async fn progress_takes_the_webui_boolean_spellings() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for q in ["true", "false", "1", "0", "yes", "off"] {
        let (status, v) = call_json!(
            &app,
            TestRequest::get().uri(&format!("/sdapi/v1/progress?skip_current_image={q}"))
        );
        assert_eq!(status, 200, "{q}: {v}");
    }
    let (status, v) = call_json!(
        &app,
        TestRequest::get().uri("/sdapi/v1/progress?skip_current_image=perhaps")
    );
    assert_eq!(status, 422, "{v}");
}

/// A known path with a method it does not take answers 405 with `Allow` (as the WebUI's FastAPI
/// does); an unknown path stays 404.
#[actix_web::test]
async fn wrong_methods_are_405_with_allow() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    for (method, uri, allow) in [
        ("PUT", "/health", "GET"),
        ("GET", "/sdapi/v1/txt2img", "POST"),
        ("POST", "/v1/jobs/0123/preview.png", "GET"),
        ("PATCH", "/v1/jobs/abc", "DELETE, GET"),
    ] {
        let req = TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri);
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), 405, "{method} {uri}");
        assert_eq!(res.headers().get("allow").unwrap(), allow, "{method} {uri}");
        let v: Value = test::read_body_json(res).await;
        assert_eq!(v["type"], "method_not_allowed", "{v}");
    }
    let (status, v) = call_json!(&app, TestRequest::get().uri("/v1/jobs/abc/nothing"));
    assert_eq!(status, 404, "{v}");
}
