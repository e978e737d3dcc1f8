//! Over a real socket: a synchronous request whose client disconnects is cancelled; the binary
//! answers `config` with the documented precedence, prints its OpenAPI document, and drains on
//! SIGTERM mid-job without losing what it accepted.

mod common;

use std::process::Command;
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

/// SIGTERM mid-job on the real (tiny) model: the synchronous request and the native job that were
/// accepted both finish, their images are on disk, new work is refused while draining, and the
/// process exits cleanly without logging credentials.
#[test]
fn sigterm_mid_job_loses_nothing_accepted() {
    let mut server = process::ServerProcess::start(&["--shutdown-timeout", "60"]);
    let r = server.client.get(server.url("/sdapi/v1/options")).send().unwrap();
    assert_eq!(r.status(), 401, "auth covers the API while the probes are public");

    // Long enough (many steps) that the signal lands while both jobs run.
    let body = serde_json::json!({"prompt": "a lighthouse", "width": 64, "height": 64, "steps": 150,
        "sampler_name": "Euler", "seed": 7});
    let sync = {
        let (client, url, body) = (server.client.clone(), server.url("/sdapi/v1/txt2img"), body.clone());
        std::thread::spawn(move || {
            let r = client
                .post(url)
                .basic_auth(process::USER, Some(process::PASS))
                .json(&body)
                .send()
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().unwrap())
        })
    };
    let mut native = body.clone();
    native["type"] = "txt2img".into();
    let r = server.post("/v1/jobs", &native);
    assert!(r.status().is_success(), "{}: {}", r.status(), r.text().unwrap());
    // A job is inside the pipeline before the signal.
    let start = Instant::now();
    loop {
        let p: serde_json::Value = server.get("/sdapi/v1/progress").json().unwrap();
        if p["state"]["sampling_step"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no job started: {p}");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.sigterm();
    // While draining, new work is refused (or the socket is already closed).
    std::thread::sleep(Duration::from_millis(100));
    if let Ok(r) = server
        .client
        .post(server.url("/sdapi/v1/txt2img"))
        .basic_auth(process::USER, Some(process::PASS))
        .json(&body)
        .send()
    {
        assert_eq!(r.status(), 503, "a new job while draining");
    }
    let (code, answer) = sync.join().unwrap();
    assert_eq!(code, 200, "the accepted synchronous request finishes: {answer}");
    assert_eq!(answer["images"].as_array().map(Vec::len), Some(1));

    let exit = server.wait_exit(Duration::from_secs(90));
    let log = server.output();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(log.contains("shutdown: draining"), "{log}");
    assert!(!log.contains("u:p"), "credentials are not logged");
    // Both accepted jobs' images were saved before the process exited.
    let saved = process::pngs(server.data.path());
    assert_eq!(saved.len(), 2, "{saved:?}\n{log}");
}
