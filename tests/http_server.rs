//! Over a real socket: a synchronous request whose client disconnects is cancelled; the binary
//! answers `config` with the documented precedence, prints its OpenAPI document, and drains on
//! SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sdgate::api::ApiSettings;
use sdgate::jobs::{JobQuery, JobState};

const BIN: &str = env!("CARGO_BIN_EXE_sdgate");

#[test]
fn a_disconnected_client_cancels_its_job() {
    let server = LiveServer::start(
        ApiSettings::default(),
        FakeConfig {
            step_delay: Duration::from_millis(20),
            ..FakeConfig::default()
        },
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let err = client
        .post(server.url("/sdapi/v1/txt2img"))
        .json(&serde_json::json!({"steps": 150, "width": 64, "height": 64}))
        .send()
        .expect_err("the client gives up first");
    assert!(err.is_timeout(), "{err}");
    let start = Instant::now();
    loop {
        let page = server.state.jobs.list(&JobQuery {
            state: None,
            offset: 0,
            limit: 10,
        });
        let job = &page.jobs[0];
        if job.state.is_final() {
            assert!(
                matches!(job.state, JobState::Interrupted | JobState::Cancelled),
                "{:?}",
                job.state
            );
            assert!(
                job.progress.steps_done < 150,
                "stopped early: {}",
                job.progress.steps_done
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the job kept running after its client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn config_precedence_is_cli_then_env_then_toml_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("sdgate.toml");
    std::fs::write(
        &toml,
        "port = 8001\nqueue-limit = 5\nmax_steps = 99\nshutdown-timeout = 7\napi-auth = \"toml:secret\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "--config", toml.to_str().unwrap(), "--port", "8003"])
        .env("SDGATE_PORT", "8002")
        .env("SDGATE_QUEUE_LIMIT", "6")
        .env_remove("SDGATE_MAX_STEPS")
        .env_remove("SDGATE_SHUTDOWN_TIMEOUT")
        .env_remove("SDGATE_API_AUTH")
        .env_remove("SDGATE_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("secret"), "credentials are redacted: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["server"]["port"], 8003, "command line beats env and TOML");
    assert_eq!(v["limits"]["queue_limit"], 6, "env beats TOML");
    assert_eq!(v["limits"]["max_steps"], 99, "TOML beats the default");
    assert_eq!(v["server"]["shutdown_timeout"], 7);
    assert_eq!(v["server"]["api_auth"], "<redacted>");
    assert_eq!(v["limits"]["max_batch_size"], 16, "default");
    // Bad input is a clear error.
    let out = Command::new(BIN)
        .args(["config", "--device-id", "zero"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("device-id"));
}

#[test]
fn the_binary_prints_the_committed_spec() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn sigterm_drains_and_exits() {
    let ort = "/work/main/.ort/lib/libonnxruntime.so";
    let ort = std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| ort.into());
    if !std::path::Path::new(&ort).exists() {
        eprintln!("SKIPPED: no ONNX Runtime library at {ort}");
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--port",
            &port.to_string(),
            "--ort-lib",
            &ort,
            "--public-probes",
            "--api-auth",
            "u:p",
        ])
        .args(["--data-dir", data.path().to_str().unwrap(), "--shutdown-timeout", "5"])
        .env_remove("SDGATE_CONFIG")
        .env_remove("MODEL_DIR")
        .env_remove("SDGATE_MODEL_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/health")).send() {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM while the device worker may still be warming up (inside ONNX Runtime): the worker
    // is joined before the process exits, so the exit is clean.
    let r = client.get(format!("http://127.0.0.1:{port}/ready")).send().unwrap();
    assert!(r.status() == 503 || r.status() == 200, "{}", r.status());
    let r = client
        .get(format!("http://127.0.0.1:{port}/sdapi/v1/options"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    use std::io::Read;
    child.stdout.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(log.contains("shutdown: draining"), "{log}");
    assert!(!log.contains("u:p"), "credentials are not logged");
}
