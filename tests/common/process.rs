//! The `sdgate` binary as a child process on a free port (real pool, tiny model on the CPU).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sdgate");
pub const USER: &str = "u";
pub const PASS: &str = "p";

pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    pub data: tempfile::TempDir,
    pub client: reqwest::blocking::Client,
}

/// The ONNX Runtime library scripts/setup-ort installed (the tests need it; never skipped).
pub fn ort_lib() -> PathBuf {
    let ort = super::repo().join(".ort/lib/libonnxruntime.so");
    assert!(
        ort.exists(),
        "no ONNX Runtime library at {} (run scripts/setup-ort)",
        ort.display()
    );
    ort
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every PNG under `dir`, recursively.
pub fn pngs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(pngs(&p));
        } else if p.extension().is_some_and(|x| x == "png") {
            out.push(p);
        }
    }
    out
}

impl ServerProcess {
    /// `sdgate serve` with auth u:p, public probes and a temporary data folder, plus `extra` flags.
    pub fn spawn(extra: &[&str]) -> Self {
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        // A file, not a pipe: a pipe nobody reads would block the server once full.
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--ort-lib",
                ort_lib().to_str().unwrap(),
            ])
            .args(["--public-probes", "--api-auth", &format!("{USER}:{PASS}")])
            .args(["--data-dir", data.path().to_str().unwrap()])
            .args(extra)
            .env_remove("SDGATE_CONFIG")
            .env_remove("MODEL_DIR")
            .env_remove("SDGATE_MODEL_DIR")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        ServerProcess {
            child,
            port,
            data,
            client,
        }
    }

    /// Start and wait for /ready.
    pub fn start(extra: &[&str]) -> Self {
        let mut s = Self::spawn(extra);
        let start = Instant::now();
        loop {
            if let Ok(r) = s.client.get(s.url("/ready")).send()
                && r.status() == 200
            {
                return s;
            }
            if let Some(exit) = s.child.try_wait().unwrap() {
                panic!("the server exited during start-up ({exit}):\n{}", s.output());
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the server did not get ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client
            .get(self.url(path))
            .basic_auth(USER, Some(PASS))
            .send()
            .unwrap()
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::blocking::Response {
        self.client
            .post(self.url(path))
            .basic_auth(USER, Some(PASS))
            .json(body)
            .send()
            .unwrap()
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Wait for the process to exit (panics after `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(start.elapsed() < limit, "no exit after {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the process has written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
