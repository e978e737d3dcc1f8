//! Part 3: images/s through POST /sdapi/v1/txt2img on the real server (the API's app on the real
//! device pool, as `sdgate serve` runs it) bound to a free local port, with N concurrent clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::client::post_json;
use super::e2e::{NEGATIVE, PROMPT};
use super::report::HttpRun;
use super::stats::{Summary, ms};
use super::{BenchArgs, BenchError};
use crate::api::{ApiSettings, AppState, build_app};
use crate::jobs::Metrics;
use crate::models::ModelRegistry;
use crate::runtime::backend::Backend;

/// Longest a single request may take before the client gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A server running on its own thread; [`Server::stop`] shuts it down gracefully.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Bind 127.0.0.1 on a free port and serve the API on `backend` (serve's app, default settings).
    pub fn start(backend: Arc<dyn Backend>, registry: Arc<ModelRegistry>) -> Result<Self, BenchError> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sdgate-bench-http".into())
            .spawn(move || -> std::io::Result<()> {
                let rt = tokio::runtime::Runtime::new()?;
                rt.block_on(async move {
                    let state = AppState::new(backend, registry, Arc::new(Metrics::new()), ApiSettings::default());
                    let bound = actix_web::HttpServer::new(move || build_app(state.clone()))
                        .disable_signals()
                        .h1_allow_half_closed(false)
                        .bind(("127.0.0.1", 0));
                    let server = match bound {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = addr_tx.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                            return Err(e);
                        }
                    };
                    let addr = server.addrs().first().copied();
                    let server = server.run();
                    let handle = server.handle();
                    let _ = addr_tx.send(addr.ok_or_else(|| std::io::Error::other("the server bound no address")));
                    tokio::spawn(async move {
                        let _ = stop_rx.await;
                        handle.stop(true).await;
                    });
                    server.await
                })
            })
            .map_err(BenchError::io("starting the HTTP server thread"))?;
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| BenchError::Http("the server did not start".into()))?
            .map_err(BenchError::io("binding 127.0.0.1"))?;
        Ok(Server {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Err(e)) => tracing::warn!("the bench's HTTP server stopped with: {e}"),
                Err(_) => tracing::warn!("the bench's HTTP server thread panicked"),
                Ok(Ok(())) => {}
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The request body every client sends.
pub fn request_body(args: &BenchArgs, size: usize, seed: u64) -> Vec<u8> {
    serde_json::json!({
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "seed": seed,
        "steps": args.steps,
        "cfg_scale": args.cfg_scale,
        "width": size,
        "height": size,
        "sampler_name": args.sampler,
        "scheduler": args.scheduler,
        "batch_size": 1,
        "n_iter": 1,
        "send_images": true,
        "save_images": false,
    })
    .to_string()
    .into_bytes()
}

/// One request: its latency and the images it returned, or why it failed.
fn one(addr: SocketAddr, body: &[u8]) -> Result<(f64, usize), String> {
    let started = Instant::now();
    let r = post_json(addr, "/sdapi/v1/txt2img", body, REQUEST_TIMEOUT).map_err(|e| e.to_string())?;
    let latency = ms(started.elapsed());
    if r.status != 200 {
        let text = String::from_utf8_lossy(&r.body);
        return Err(format!(
            "status {}: {}",
            r.status,
            text.chars().take(300).collect::<String>()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| format!("response JSON: {e}"))?;
    let images = v.get("images").and_then(|i| i.as_array()).map_or(0, |a| a.len());
    if images == 0 {
        return Err("the response has no image".into());
    }
    Ok((latency, images))
}

/// The start line: clients report ready after their warm-up, then wait for the word (go or abort).
#[derive(Default)]
struct Gate {
    state: Mutex<(usize, Option<bool>)>,
    cv: Condvar,
}

impl Gate {
    /// A client is ready; returns whether to run (false: abort).
    fn ready_and_wait(&self) -> bool {
        let mut g = self.state.lock();
        g.0 += 1;
        self.cv.notify_all();
        loop {
            if let Some(go) = g.1 {
                return go;
            }
            self.cv.wait(&mut g);
        }
    }

    fn wait_for(&self, clients: usize) {
        let mut g = self.state.lock();
        while g.0 < clients {
            self.cv.wait(&mut g);
        }
    }

    fn open(&self, go: bool) {
        self.state.lock().1 = Some(go);
        self.cv.notify_all();
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    images: usize,
    errors: usize,
    first_error: Option<String>,
}

/// `clients` threads send requests back to back, after `warmup` untimed requests each. They stop
/// at the deadline (`http_secs`; requests finished by then count) or after `http_requests` requests.
pub fn measure(
    addr: SocketAddr,
    args: &BenchArgs,
    size: usize,
    clients: usize,
    max_batch: usize,
) -> Result<HttpRun, BenchError> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(Gate::default());
    let issued = Arc::new(AtomicUsize::new(0));
    let limit = args.http_requests;
    let duration = Duration::from_secs_f64(args.http_secs);
    let mut threads = Vec::new();
    for c in 0..clients {
        let (tally, my_gate, issued) = (tally.clone(), gate.clone(), issued.clone());
        let warm_body = request_body(args, size, 1_000_000 + c as u64);
        let args = args.clone();
        let t = std::thread::Builder::new()
            .name(format!("sdgate-bench-client-{c}"))
            .spawn(move || {
                let mut warm_err = None;
                for _ in 0..args.http_warmup {
                    if let Err(e) = one(addr, &warm_body) {
                        warm_err = Some(e);
                        break;
                    }
                }
                if !my_gate.ready_and_wait() {
                    return;
                }
                if let Some(e) = warm_err {
                    let mut t = tally.lock();
                    t.errors += 1;
                    t.first_error.get_or_insert(format!("warm-up: {e}"));
                    return;
                }
                let deadline = Instant::now() + duration;
                loop {
                    let n = issued.fetch_add(1, Ordering::SeqCst);
                    match limit {
                        Some(l) if n >= l => break,
                        None if Instant::now() >= deadline => break,
                        _ => {}
                    }
                    let body = request_body(&args, size, n as u64);
                    let r = one(addr, &body);
                    let finished_in_time = limit.is_some() || Instant::now() <= deadline;
                    let mut t = tally.lock();
                    match r {
                        Ok((lat, images)) if finished_in_time => {
                            t.latencies.push(lat);
                            t.images += images;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(e);
                            break;
                        }
                    }
                }
            })
            .map_err(BenchError::io("starting a client thread"));
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                gate.open(false);
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
    }
    // Every client has done its warm-up: the clock starts for all at once.
    gate.wait_for(clients);
    gate.open(true);
    let started = Instant::now();
    for t in threads {
        let _ = t.join();
    }
    let wall = started.elapsed().as_secs_f64();
    let t = std::mem::take(&mut *tally.lock());
    // Duration mode counts what finished within the window; count mode, until the last answer.
    let seconds = if limit.is_some() {
        wall
    } else {
        args.http_secs.min(wall)
    };
    Ok(HttpRun {
        max_batch,
        clients,
        warmup_per_client: args.http_warmup,
        mode: if limit.is_some() { "requests" } else { "duration" }.into(),
        seconds,
        requests: t.latencies.len(),
        images: t.images,
        errors: t.errors,
        first_error: t.first_error,
        images_per_s: if seconds > 0.0 { t.images as f64 / seconds } else { 0.0 },
        latency_ms: Summary::of(&t.latencies),
    })
}
