//! The native job API on the fake backend: submit, poll, list, images, cancel, events; admission
//! (429), draining (503) and metrics.

#[macro_use]
mod common;

use std::time::Duration;

use actix_web::test::{self, TestRequest};
use common::*;
use sdgate::api::build_app;
use serde_json::{Value, json};

fn txt2img(steps: u32) -> Value {
    json!({"type": "txt2img", "prompt": "a cat", "steps": steps, "width": 64, "height": 64, "batch_size": 2, "seed": 7})
}

#[actix_web::test]
async fn submit_poll_fetch() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let res = test::call_service(
        &app,
        TestRequest::post().uri("/v1/jobs").set_json(txt2img(3)).to_request(),
    )
    .await;
    assert_eq!(res.status(), 202);
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_string();
    let job: Value = test::read_body_json(res).await;
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert_eq!(job["links"]["events"], format!("/v1/jobs/{id}/events"));
    assert!(matches!(job["state"].as_str(), Some("queued" | "running")));
    let mut done = Value::Null;
    for _ in 0..1000 {
        let (_, v) = call_json!(&app, TestRequest::get().uri(&location));
        if v["state"] == "succeeded" {
            done = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(done["progress"]["fraction"], 1.0, "{done}");
    assert_eq!(done["type"], "txt2img");
    assert_eq!(done["origin"], "native");
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    assert_eq!(done["info"]["seed"], 7, "info is an object here");
    let images = done["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[1]["seed"], 8);
    let url = images[1]["url"].as_str().unwrap();
    assert_eq!(url, format!("/v1/images/{id}/1.png"));
    let res = test::call_service(&app, TestRequest::get().uri(url).to_request()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "image/png");
    let png = test::read_body(res).await;
    assert_eq!(&png[..4], b"\x89PNG");
    for bad in [
        format!("/v1/images/{id}/2.png"),
        format!("/v1/images/{id}/x.png"),
        format!("/v1/images/{id}/0.jpg"),
    ] {
        let (status, _) = call_json!(&app, TestRequest::get().uri(&bad));
        assert_eq!(status, 404, "{bad}");
    }
}

#[actix_web::test]
async fn list_is_paged_newest_first() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let mut ids = vec![];
    for _ in 0..5 {
        let (_, v) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(txt2img(1)));
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (_, page) = call_json!(&app, TestRequest::get().uri("/v1/jobs?limit=2"));
    assert_eq!(page["total"], 5);
    assert_eq!(page["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(page["jobs"][0]["id"], ids[4].as_str());
    let (_, page) = call_json!(&app, TestRequest::get().uri("/v1/jobs?limit=2&offset=4"));
    assert_eq!(page["jobs"][0]["id"], ids[0].as_str());
    let jobs = h.state.jobs.clone();
    eventually(|| jobs.live_count() == 0).await;
    let (_, page) = call_json!(&app, TestRequest::get().uri("/v1/jobs?state=succeeded"));
    assert_eq!(page["total"], 5);
}

#[actix_web::test]
async fn cancel_queued_and_interrupt_running() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            paused: true,
            step_delay: Duration::from_millis(10),
            ..FakeConfig::default()
        },
    );
    let app = test::init_service(build_app(h.state.clone())).await;
    let (_, a) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(txt2img(150)));
    let (_, b) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(txt2img(150)));
    let (a, b) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    // b is queued: cancelled at once.
    let (status, v) = call_json!(&app, TestRequest::delete().uri(&format!("/v1/jobs/{b}")));
    assert_eq!(status, 200);
    assert_eq!(v["state"], "cancelled");
    h.backend.resume();
    let jobs = h.state.jobs.clone();
    let aid: uuid::Uuid = a.parse().unwrap();
    eventually(|| jobs.get(aid).is_some_and(|r| r.progress.steps_done > 2)).await;
    let (_, v) = call_json!(&app, TestRequest::delete().uri(&format!("/v1/jobs/{a}")));
    assert_eq!(v["state"], "running", "interruption takes effect at the next step");
    eventually(|| jobs.get(aid).is_some_and(|r| r.state.is_final())).await;
    let (_, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/jobs/{a}")));
    assert_eq!(v["state"], "interrupted");
    let (_, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/jobs/{b}")));
    assert_eq!(v["state"], "cancelled", "the worker skipped the cancelled job");
    eventually(|| jobs.live_count() == 0).await;
    // Deleting an ended job returns it unchanged; an unknown one is 404.
    let (status, v) = call_json!(&app, TestRequest::delete().uri(&format!("/v1/jobs/{a}")));
    assert_eq!((status.as_u16(), v["state"].as_str()), (200, Some("interrupted")));
    let (status, _) = call_json!(
        &app,
        TestRequest::delete().uri(&format!("/v1/jobs/{}", uuid::Uuid::new_v4()))
    );
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn events_stream_progress_preview_and_done() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            step_delay: Duration::from_millis(5),
            ..FakeConfig::default()
        },
    );
    let app = test::init_service(build_app(h.state.clone())).await;
    let (_, job) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(txt2img(25)));
    let id = job["id"].as_str().unwrap();
    let res = test::call_service(
        &app,
        TestRequest::get().uri(&format!("/v1/jobs/{id}/events")).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "text/event-stream");
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let events: Vec<(String, Value)> = body
        .split("\n\n")
        .filter(|e| e.starts_with("event: "))
        .map(|e| {
            let mut lines = e.lines();
            let name = lines.next().unwrap().trim_start_matches("event: ").to_string();
            let data = lines.next().unwrap().trim_start_matches("data: ");
            (name, serde_json::from_str(data).unwrap())
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names.iter().filter(|n| **n == "progress").count() >= 3, "{names:?}");
    assert!(names.contains(&"preview"), "previews every 10 steps: {names:?}");
    let fractions: Vec<f64> = events
        .iter()
        .filter(|(n, _)| n == "progress")
        .map(|(_, d)| d["progress"]["fraction"].as_f64().unwrap())
        .collect();
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "monotonic: {fractions:?}");
    let (_, done) = events.last().unwrap();
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["images"].as_array().unwrap().len(), 2);
    // A stream opened after the end gives the final event at once.
    let res = test::call_service(
        &app,
        TestRequest::get().uri(&format!("/v1/jobs/{id}/events")).to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(body.contains("event: done"), "{body}");
}

#[actix_web::test]
async fn failed_jobs_stream_failed() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let (_, job) = call_json!(
        &app,
        TestRequest::post()
            .uri("/v1/jobs")
            .set_json(json!({"type": "txt2img", "prompt": "FAIL_INTERNAL", "steps": 2, "width": 64, "height": 64}))
    );
    let id = job["id"].as_str().unwrap();
    let res = test::call_service(
        &app,
        TestRequest::get().uri(&format!("/v1/jobs/{id}/events")).to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(body.contains("event: failed"), "{body}");
    let (_, v) = call_json!(&app, TestRequest::get().uri(&format!("/v1/jobs/{id}")));
    assert_eq!(v["state"], "failed");
    assert_eq!(v["error"]["type"], "generation_failed");
}

#[actix_web::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            capacity: 2,
            paused: true,
            ..FakeConfig::default()
        },
    );
    let app = test::init_service(build_app(h.state.clone())).await;
    for _ in 0..2 {
        let (status, _) = call_json!(&app, TestRequest::post().uri("/v1/jobs").set_json(txt2img(1)));
        assert_eq!(status, 202);
    }
    for uri in ["/v1/jobs", "/sdapi/v1/txt2img"] {
        let res = test::call_service(&app, TestRequest::post().uri(uri).set_json(txt2img(1)).to_request()).await;
        assert_eq!(res.status(), 429, "{uri}");
        assert_eq!(res.headers().get("retry-after").unwrap(), "2");
        let v: Value = test::read_body_json(res).await;
        assert_eq!(v["type"], "queue_full");
    }
    let (_, page) = call_json!(&app, TestRequest::get().uri("/v1/jobs"));
    assert_eq!(page["total"], 2, "refused jobs leave no record");
    h.backend.resume();
}

#[actix_web::test]
async fn readiness_draining_and_metrics() {
    let h = harness_with(
        Default::default(),
        FakeConfig {
            ready: false,
            ..FakeConfig::default()
        },
    );
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, v) = call_json!(&app, TestRequest::get().uri("/ready"));
    assert_eq!(status, 503, "{v}");
    let (status, _) = call_json!(&app, TestRequest::get().uri("/health"));
    assert_eq!(status, 200);
    h.backend.set_ready(true);
    let (status, v) = call_json!(&app, TestRequest::get().uri("/ready"));
    assert_eq!(status, 200);
    assert_eq!(v["devices"][0]["device"], "fake:0");
    let (status, _) = call_json!(&app, TestRequest::post().uri("/sdapi/v1/txt2img").set_json(txt2img(1)));
    assert_eq!(status, 200);
    let (_, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"width": 7}))
    );

    let res = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    for needle in [
        "sdgate_queue_depth 0",
        "sdgate_jobs_total{outcome=\"succeeded\"} 1",
        "sdgate_images_total 2",
        "sdgate_job_seconds_count 1",
        "sdgate_step_seconds_count",
        "sdgate_errors_total{type=\"validation_error\"} 1",
        "sdgate_http_requests_total{route=\"/sdapi/v1/txt2img\",status=\"200\"} 1",
        "sdgate_http_requests_total{route=\"/sdapi/v1/txt2img\",status=\"422\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }

    let drained = sdgate::api::shutdown::drain(&h.state, Duration::from_secs(1)).await;
    assert!(drained);
    let (status, v) = call_json!(&app, TestRequest::get().uri("/ready"));
    assert_eq!((status.as_u16(), v["draining"].as_bool()), (503, Some(true)));
    for uri in ["/v1/jobs", "/sdapi/v1/txt2img"] {
        let (status, v) = call_json!(&app, TestRequest::post().uri(uri).set_json(txt2img(1)));
        assert_eq!(status, 503, "{uri}: {v}");
        assert_eq!(v["type"], "shutting_down");
    }
}

#[actix_web::test]
async fn the_page_lists_images_and_can_be_turned_off() {
    let h = harness();
    let app = test::init_service(build_app(h.state.clone())).await;
    let (_, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .set_json(json!({"prompt": "<script>x</script>", "steps": 1, "width": 64, "height": 64}))
    );
    let (status, page) = call_json!(&app, TestRequest::get().uri("/"));
    assert_eq!(status, 200);
    // The gallery page: a static shell whose script lists the images through the JSON API (see
    // tests/gallery_http.rs and the browser tests in tests/e2e).
    let page = page.as_str().unwrap();
    assert!(page.contains("/gallery/assets/app.js"));
    assert!(!page.contains("<script>x"));
    let settings = sdgate::api::ApiSettings {
        webui_page: false,
        ..Default::default()
    };
    let h = harness_with(settings, FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let (status, _) = call_json!(&app, TestRequest::get().uri("/"));
    assert_eq!(status, 404);
}
