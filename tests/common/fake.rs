//! The fake backend and HTTP harness (see the module doc in mod.rs).
#![allow(dead_code)]
// Shared by the HTTP tests: a fake backend (deterministic small PNGs, honours interrupt, skip and
// progress) and temporary model folders. The lead swaps the fake for the real pool on the tiny
// model later; everything here goes through the `Backend` trait only.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use sdgate::api::{ApiSettings, AppState};
use sdgate::jobs::Metrics;
use sdgate::models::{ModelRegistry, ModelSources};
use sdgate::pipeline::job::Mode;
use sdgate::pipeline::{GeneratedImage, GenerationInfo, GenerationJob, GenerationOutput, JobControl, PipelineError};
use sdgate::runtime::backend::{Backend, DeviceStatus, JobResult, SubmitError};
use sdgate::samplers::SamplerError;
use tokio::sync::oneshot;

struct Item {
    job: GenerationJob,
    control: Arc<JobControl>,
    tx: oneshot::Sender<JobResult>,
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub capacity: usize,
    pub step_delay: Duration,
    pub ready: bool,
    /// Start with the worker paused (jobs stay queued until `resume`).
    pub paused: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            capacity: 8,
            step_delay: Duration::from_millis(2),
            ready: true,
            paused: false,
        }
    }
}

struct Inner {
    queue: Mutex<VecDeque<Item>>,
    wake: Condvar,
    running: AtomicUsize,
    ready: AtomicBool,
    draining: AtomicBool,
    paused: AtomicBool,
    config: FakeConfig,
    /// Every job accepted, for inspection.
    accepted: Mutex<Vec<GenerationJob>>,
}

/// One worker thread, FIFO, `step_delay` per step; prompts containing "FAIL_PROMPT" fail as a
/// client error, "FAIL_INTERNAL" as a server fault.
pub struct FakeBackend {
    inner: Arc<Inner>,
}

impl FakeBackend {
    pub fn new(config: FakeConfig) -> Arc<Self> {
        let inner = Arc::new(Inner {
            queue: Mutex::new(VecDeque::new()),
            wake: Condvar::new(),
            running: AtomicUsize::new(0),
            ready: AtomicBool::new(config.ready),
            draining: AtomicBool::new(false),
            paused: AtomicBool::new(config.paused),
            config,
            accepted: Mutex::new(vec![]),
        });
        let worker = inner.clone();
        std::thread::spawn(move || work(worker));
        Arc::new(FakeBackend { inner })
    }

    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.wake.notify_all();
    }

    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    pub fn accepted(&self) -> Vec<GenerationJob> {
        self.inner.accepted.lock().clone()
    }
}

impl Backend for FakeBackend {
    fn submit(
        &self,
        job: GenerationJob,
        control: Arc<JobControl>,
    ) -> Result<oneshot::Receiver<JobResult>, SubmitError> {
        if self.inner.draining.load(Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown);
        }
        let mut q = self.inner.queue.lock();
        if q.len() >= self.inner.config.capacity {
            return Err(SubmitError::QueueFull {
                capacity: self.inner.config.capacity,
                retry_after_secs: 2,
            });
        }
        let (tx, rx) = oneshot::channel();
        self.inner.accepted.lock().push(job.clone());
        q.push_back(Item { job, control, tx });
        self.inner.wake.notify_all();
        Ok(rx)
    }
    fn queue_depth(&self) -> usize {
        self.inner.queue.lock().len()
    }
    fn queue_capacity(&self) -> usize {
        self.inner.config.capacity
    }
    fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst) && !self.inner.draining.load(Ordering::SeqCst)
    }
    fn devices(&self) -> Vec<DeviceStatus> {
        vec![DeviceStatus {
            device: "fake:0".into(),
            provider: "cpu".into(),
            model: Some("model-a".into()),
            active_jobs: self.inner.running.load(Ordering::SeqCst),
            max_batch: 1,
            ready: self.is_ready(),
            last_error: None,
        }]
    }
    fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }
    fn in_flight(&self) -> usize {
        self.queue_depth() + self.inner.running.load(Ordering::SeqCst)
    }
}

fn work(inner: Arc<Inner>) {
    loop {
        let item = {
            let mut q = inner.queue.lock();
            loop {
                if !inner.paused.load(Ordering::SeqCst)
                    && let Some(item) = q.pop_front()
                {
                    inner.running.fetch_add(1, Ordering::SeqCst);
                    break item;
                }
                inner.wake.wait_for(&mut q, Duration::from_millis(20));
            }
        };
        let result = run(&inner, &item.job, &item.control);
        let _ = item.tx.send(result);
        inner.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A solid-colour PNG with the infotext in its "parameters" chunk.
pub fn png(width: usize, height: usize, seed: u64, infotext: &str) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.add_text_chunk("parameters".into(), infotext.into()).unwrap();
        let mut w = enc.write_header().unwrap();
        let c = [(seed % 251) as u8, (seed / 7 % 251) as u8, 128];
        let data: Vec<u8> = (0..width * height).flat_map(|_| c).collect();
        w.write_image_data(&data).unwrap();
    }
    out
}

fn run(inner: &Inner, job: &GenerationJob, control: &JobControl) -> JobResult {
    let mut info = GenerationInfo {
        prompt: job.prompt.clone(),
        negative_prompt: job.negative_prompt.clone(),
        seed: job.seed.seed,
        subseed: job.seed.subseed,
        width: job.width,
        height: job.height,
        sampler_name: job.sampler.sampler.clone(),
        cfg_scale: job.cfg_scale,
        steps: job.steps,
        batch_size: job.batch_size,
        sd_model_name: job.model.manifest.name.clone(),
        sd_model_hash: job.model.manifest.source.short_hash.clone(),
        clip_skip: job.clip_skip,
        version: "sdgate-fake".into(),
        job_timestamp: "20260101000000".into(),
        ..GenerationInfo::default()
    };
    if control.is_interrupted() {
        return Ok(GenerationOutput {
            images: vec![],
            info,
            interrupted: true,
        });
    }
    let total = job.steps * job.n_iter;
    control.update(|p| {
        p.started = Some(Instant::now());
        p.job_count = job.n_iter;
        p.sampling_steps = job.steps;
        p.steps_total = total;
    });
    if job.prompt.contains("FAIL_PROMPT") {
        return Err(PipelineError::Prompt("the fake refuses this prompt".into()));
    }
    if job.prompt.contains("FAIL_INTERNAL") {
        return Err(PipelineError::Sampler(SamplerError::Protocol(
            "fake internal fault".into(),
        )));
    }
    let (w, h) = match &job.mode {
        Mode::Txt2Img { hires: Some(hr) } => (hr.width, hr.height),
        _ => (job.width, job.height),
    };
    let mut images = Vec::new();
    let mut interrupted = false;
    'outer: for it in 0..job.n_iter {
        for step in 0..job.steps {
            std::thread::sleep(inner.config.step_delay);
            if control.is_interrupted() {
                interrupted = true;
                break 'outer;
            }
            if control.take_skip() {
                break;
            }
            control.update(|p| {
                p.job_no = it;
                p.sampling_step = step + 1;
                p.steps_done += 1;
                if job.output.preview_every > 0 && (step + 1) % job.output.preview_every == 0 {
                    p.preview_png = Some(png(8, 8, step as u64, "preview"));
                }
            });
        }
        for b in 0..job.batch_size {
            let seed = job.seed.seed + (it * job.batch_size + b) as u64;
            let infotext = format!(
                "{}\nNegative prompt: {}\nSteps: {}, Sampler: {}, Schedule type: {}, CFG scale: {}, Seed: {seed}, Size: {w}x{h}, Model: {}",
                job.prompt,
                job.negative_prompt,
                job.steps,
                job.sampler.sampler,
                job.sampler.scheduler,
                job.cfg_scale,
                job.model.manifest.name
            );
            info.all_seeds.push(seed);
            info.all_subseeds.push(job.seed.subseed);
            info.all_prompts.push(job.prompt.clone());
            info.all_negative_prompts.push(job.negative_prompt.clone());
            info.infotexts.push(infotext.clone());
            images.push(GeneratedImage {
                png: png(w, h, seed, &infotext),
                width: w,
                height: h,
                seed,
                subseed: job.seed.subseed,
                prompt: job.prompt.clone(),
                negative_prompt: job.negative_prompt.clone(),
                infotext,
                latents: None,
            });
        }
    }
    Ok(GenerationOutput {
        images,
        info,
        interrupted,
    })
}

/// A model folder with a manifest (vae_scale_factor 8, like SD 1.x) and empty graph files.
pub fn model_folder(root: &Path, name: &str, hash_digit: char) -> std::path::PathBuf {
    let dir = root.join(name);
    for f in [
        "tokenizer/tokenizer.json",
        "text_encoder/token_embedding.safetensors",
        "text_encoder/model.onnx",
        "unet/model.onnx",
        "vae_encoder/model.onnx",
        "vae_decoder/model.onnx",
    ] {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }
    let sha: String = std::iter::repeat_n(hash_digit, 64).collect();
    let manifest = serde_json::json!({
        "format_version": 1, "name": name, "family": "sd1", "prediction_type": "epsilon",
        "latent_channels": 4, "unet_in_channels": 4, "vae_scale_factor": 8, "vae_scaling_factor": 0.18215,
        "default_image_size": 512,
        "text": {"hidden_size": 768, "max_length": 77, "num_hidden_layers": 12, "vocab_size": 49408,
                 "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407,
                 "tokenizer": "tokenizer/tokenizer.json",
                 "token_embeddings": "text_encoder/token_embedding.safetensors"},
        "scheduler": {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                      "beta_schedule": "scaled_linear"},
        "graphs": {
            "text_encoder": {"file": "text_encoder/model.onnx", "precision": "fp32", "provider": "any"},
            "unet": {"file": "unet/model.onnx", "precision": "fp32", "provider": "any"},
            "vae_encoder": {"file": "vae_encoder/model.onnx", "precision": "fp32", "provider": "any"},
            "vae_decoder": {"file": "vae_decoder/model.onnx", "precision": "fp32", "provider": "any"}
        },
        "source": {"file_name": format!("{name}.safetensors"), "sha256": sha, "short_hash": &sha[..10]}
    });
    std::fs::write(dir.join("model.json"), manifest.to_string()).unwrap();
    dir
}

pub struct Harness {
    pub state: AppState,
    pub backend: Arc<FakeBackend>,
    pub dir: tempfile::TempDir,
}

/// Two models (model-a current, model-b), the fake backend, and the given settings.
pub fn harness_with(settings: ApiSettings, fake: FakeConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let a = model_folder(dir.path(), "model-a", 'a');
    let b = model_folder(dir.path(), "model-b", 'b');
    let registry = Arc::new(
        ModelRegistry::new(ModelSources {
            folders: vec![a, b],
            ckpt_dir: None,
        })
        .unwrap(),
    );
    let backend = FakeBackend::new(fake);
    let mut settings = settings;
    settings.poll_interval = Duration::from_millis(10);
    let state = AppState::new(backend.clone(), registry, Arc::new(Metrics::new()), settings);
    Harness { state, backend, dir }
}

pub fn harness() -> Harness {
    harness_with(ApiSettings::default(), FakeConfig::default())
}

pub fn basic(user_pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
}

/// A small base64 PNG.
pub fn b64_png(width: usize, height: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(png(width, height, 1, "init"))
}

/// Wait (polling) until `f` holds, up to 5 s.
pub async fn eventually(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(5), "condition not reached in 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Call the test service; (status, JSON body or the body as a string, or null when empty).
#[macro_export]
macro_rules! call_json {
    ($app:expr, $req:expr $(,)?) => {{
        let res = actix_web::test::call_service($app, $req.to_request()).await;
        let status = res.status();
        let body = actix_web::test::read_body(res).await;
        let v: serde_json::Value = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        (status, v)
    }};
}

/// A real HTTP server (its own actix system on a thread) on 127.0.0.1:<port>, for clients that
/// need a socket. Stops when dropped.
pub struct LiveServer {
    pub port: u16,
    pub state: AppState,
    pub backend: Arc<FakeBackend>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    pub fn start(settings: ApiSettings, fake: FakeConfig) -> LiveServer {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let h = harness_with(settings, fake);
                let state = h.state.clone();
                let server = actix_web::HttpServer::new(move || sdgate::api::build_app(state.clone()))
                    .workers(2)
                    .disable_signals()
                    .h1_allow_half_closed(false)
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                let port = server.addrs()[0].port();
                let srv = server.run();
                tx.send((port, srv.handle(), h.state.clone(), h.backend.clone()))
                    .unwrap();
                let _keep = h;
                let _ = srv.await;
            });
        });
        let (port, handle, state, backend) = rx.recv().unwrap();
        LiveServer {
            port,
            state,
            backend,
            handle,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
