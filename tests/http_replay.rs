//! Replays, call by call, what real WebUI clients send (tests/fixtures/clients: webuiapi recorded
//! from the real client, Open WebUI and SillyTavern transcribed from their sources) and checks every
//! answer's shape as that client reads it. Then runs the real webuiapi client live against sdgate
//! (scripts/test runs that one once .venv exists).

#[macro_use]
mod common;

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use base64::Engine;
use common::*;
use sdgate::api::{ApiSettings, build_app};
use serde_json::{Map, Value};

fn settings() -> ApiSettings {
    ApiSettings {
        auth: Some("user:pass".parse().unwrap()),
        ..ApiSettings::default()
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/clients/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn is_png_b64(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .is_some_and(|b| b.starts_with(b"\x89PNG"))
}

fn has(v: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| v.get(k).is_some())
}

/// The shape each route must have, as the clients read it.
fn check_shape(method: &str, path: &str, v: &Value) -> Result<(), String> {
    let route = path.split('?').next().unwrap_or(path).trim_start_matches("/sdapi/v1/");
    let ok = match (method, route) {
        ("POST", "txt2img" | "img2img") => {
            let info: Value =
                serde_json::from_str(v["info"].as_str().ok_or("info is not a string")?).map_err(|e| e.to_string())?;
            v["images"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(is_png_b64))
                && v["parameters"].is_object()
                && has(
                    &info,
                    &[
                        "prompt",
                        "seed",
                        "all_seeds",
                        "infotexts",
                        "sd_model_name",
                        "job_timestamp",
                    ],
                )
                && v["parameters"].get("auth").is_none()
                && v["parameters"].get("url").is_none()
        }
        ("GET", "options") => v["sd_model_checkpoint"].is_string() && v.is_object(),
        ("POST", "options" | "refresh-checkpoints" | "skip") => v.is_null(),
        ("POST", "interrupt") => v == &serde_json::json!({}),
        ("GET", "sd-models") => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|m| has(m, &["title", "model_name", "hash", "sha256", "filename", "config"]))
        }),
        ("GET", "samplers") => v.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|s| s["name"].is_string() && s["aliases"].is_array() && s["options"].is_object())
        }),
        ("GET", "schedulers") => v.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|s| has(s, &["name", "label", "aliases", "default_rho", "need_inner_model"]))
        }),
        ("GET", "upscalers") => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|u| u["name"].is_string() && has(u, &["model_name", "model_path", "model_url", "scale"]))
        }),
        ("GET", "latent-upscale-modes") => v
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|u| u["name"].is_string())),
        (
            "GET",
            "sd-vae" | "loras" | "hypernetworks" | "face-restorers" | "realesrgan-models" | "prompt-styles"
            | "script-info" | "extensions",
        ) => v.is_array(),
        ("GET", "embeddings") => v["loaded"].is_object() && v["skipped"].is_object(),
        ("GET", "memory") => v["ram"].is_object() && v["cuda"].is_object(),
        ("GET", "cmd-flags") => v.is_object(),
        ("GET", "scripts") => v["txt2img"].is_array() && v["img2img"].is_array(),
        ("GET", "progress") => {
            v["progress"].is_number()
                && v["eta_relative"].is_number()
                && v["state"]["job_count"].is_i64()
                && has(
                    &v["state"],
                    &[
                        "job_no",
                        "sampling_step",
                        "sampling_steps",
                        "job_timestamp",
                        "interrupted",
                        "skipped",
                    ],
                )
        }
        ("POST", "png-info") => v["info"].is_string() && v["items"].is_object() && v["parameters"].is_object(),
        _ => return Err(format!("no shape check for {method} {path}")),
    };
    if ok { Ok(()) } else { Err(format!("bad shape: {v}")) }
}

async fn replay(name: &str) {
    let h = harness_with(settings(), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let fx = fixture(name);
    let mut last_options = Map::new();
    let calls = fx["calls"].as_array().unwrap();
    assert!(calls.len() >= 5, "{name}: {} calls", calls.len());
    for (i, call) in calls.iter().enumerate() {
        let method = call["method"].as_str().unwrap();
        let path = call["path"].as_str().unwrap();
        let mut req = TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(a) = call["authorization"].as_str() {
            req = req.insert_header(("authorization", a));
        }
        if let Some(body) = call.get("body") {
            let body = match body.get("$OPTIONS_WITH") {
                Some(changes) => {
                    let mut o = last_options.clone();
                    for (k, v) in changes.as_object().unwrap() {
                        o.insert(k.clone(), v.clone());
                    }
                    Value::Object(o)
                }
                None => body.clone(),
            };
            req = req.set_json(body);
        }
        let (status, v) = call_json!(&app, req);
        let ctx = format!("{name} call {i}: {method} {path}");
        let expected = call["expect_status"].as_u64().unwrap_or(match (method, path) {
            ("POST", "/sdapi/v1/extra-single-image") => 501,
            _ => 200,
        });
        assert_eq!(status.as_u16() as u64, expected, "{ctx}: {v}");
        if status != 200 {
            continue;
        }
        if let Err(e) = check_shape(method, path, &v) {
            panic!("{ctx}: {e}");
        }
        if method == "GET" && path == "/sdapi/v1/options" {
            last_options = v.as_object().unwrap().clone();
        }
        if let Some(model) = call["expect_model"].as_str() {
            assert_eq!(v["sd_model_checkpoint"], model, "{ctx}");
        }
        if call["expect_idle"].as_bool() == Some(true) {
            // SillyTavern's loop: progress === 0.0 && job_count === 0
            assert!(
                v["progress"].as_f64() == Some(0.0) && v["state"]["job_count"] == 0,
                "{ctx}: {v}"
            );
        }
    }
    assert!(!h.backend.accepted().is_empty(), "{name}: something was generated");
}

#[actix_web::test]
async fn webuiapi_recorded_session() {
    replay("webuiapi").await;
}

#[actix_web::test]
async fn open_webui_session() {
    replay("open_webui").await;
}

#[actix_web::test]
async fn sillytavern_session() {
    replay("sillytavern").await;
}

#[actix_web::test]
async fn recorded_requests_become_the_right_jobs() {
    let h = harness_with(settings(), FakeConfig::default());
    let app = test::init_service(build_app(h.state.clone())).await;
    let fx = fixture("sillytavern");
    let generate = fx["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/sdapi/v1/txt2img")
        .unwrap();
    let (status, _) = call_json!(
        &app,
        TestRequest::post()
            .uri("/sdapi/v1/txt2img")
            .insert_header(("authorization", basic("user:pass")))
            .set_json(&generate["body"])
    );
    assert_eq!(status, 200);
    let job = &h.backend.accepted()[0];
    assert_eq!(job.sampler.sampler, "DDIM");
    assert_eq!(job.sampler.scheduler, "Normal");
    assert_eq!((job.width, job.height, job.steps), (64, 64, 3));
    assert_eq!(job.clip_skip, 1);
}

/// The real webuiapi client against sdgate over a socket. It needs the project's Python (.venv, made
/// by scripts/setup-python after the Rust tests), so scripts/test runs it by name afterwards.
#[test]
#[ignore = "needs .venv with webuiapi; scripts/test runs it after scripts/setup-python"]
fn webuiapi_live() {
    let venv = format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("SDGATE_TEST_PYTHON").unwrap_or(venv);
    let has_client = std::process::Command::new(&python)
        .args(["-c", "import webuiapi"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(has_client, "{python} has no webuiapi: run scripts/setup-python");
    let server = LiveServer::start(settings(), FakeConfig::default());
    let script = format!("{}/scripts/clients/webuiapi_session.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&python)
        .args([
            script.as_str(),
            "--port",
            &server.port.to_string(),
            "--user",
            "user",
            "--password",
            "pass",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "webuiapi session failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("webuiapi session ok"), "{stdout}");
    assert!(server.backend.accepted().len() >= 3);
}
