//! The `sdgate bench` command line.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::runtime::ProviderKind;

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// UNet step latency by CFG batch size, through Engine::unet.
    Unet,
    /// End-to-end txt2img latency through the device pool, one job at a time.
    E2e,
    /// Images/s through POST /sdapi/v1/txt2img with concurrent clients.
    Http,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct BenchArgs {
    /// A model folder (model.json + ONNX graphs). Default: the embedded tiny model.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Execution provider (no fallback: the bench fails rather than measure another provider).
    #[arg(long, value_enum, default_value_t = ProviderKind::Cpu)]
    pub provider: ProviderKind,
    /// The GPU to run on.
    #[arg(long, default_value_t = 0)]
    pub device_id: i32,
    /// The ONNX Runtime shared library (otherwise ORT_DYLIB_PATH, then .ort/lib).
    #[arg(long, env = "SDGATE_ORT_LIB", value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Folder for the JSON and Markdown results (created if missing).
    #[arg(long, default_value = "bench-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the result files: <out>/sdgate-<tag>.json / .md (default: <provider>-<UNet precision>).
    #[arg(long)]
    pub tag: Option<String>,
    /// The card, as free text (default: nvidia-smi's name of --device-id on a GPU provider, else the
    /// CPU model from /proc/cpuinfo).
    #[arg(long)]
    pub card: Option<String>,
    /// Parts to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Part::Unet, Part::E2e, Part::Http])]
    pub parts: Vec<Part>,
    /// Image side in pixels for every part (latents: size / vae_scale_factor). Default: the model's
    /// default_image_size (512 for SD 1.5, 64 for the tiny model).
    #[arg(long)]
    pub size: Option<usize>,
    /// Sampling steps of the e2e and http jobs.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Sampler of the e2e and http jobs (a WebUI name: "Euler", "DPM++ 2M", ...).
    #[arg(long, default_value = "Euler")]
    pub sampler: String,
    /// Schedule of the e2e and http jobs ("Automatic", "Karras", ...).
    #[arg(long, default_value = "Automatic")]
    pub scheduler: String,
    #[arg(long, default_value_t = 7.0)]
    pub cfg_scale: f32,
    /// UNet rows per call (the CFG batch: 2 rows per image), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 4, 8, 16, 32])]
    pub unet_rows: Vec<usize>,
    /// Untimed UNet calls per batch size before timing.
    #[arg(long, default_value_t = 3)]
    pub unet_warmup: usize,
    /// Timed UNet calls per batch size.
    #[arg(long, default_value_t = 20)]
    pub unet_iters: usize,
    /// TFLOP of one UNet row, for TFLOP/s (SD 1.5 at 64×64 latents: 0.8035).
    #[arg(long)]
    pub unet_tflop_per_row: Option<f64>,
    /// Tokens of the UNet's conditioning (77 per prompt chunk).
    #[arg(long, default_value_t = 77)]
    pub context_len: usize,
    /// Untimed e2e jobs first.
    #[arg(long, default_value_t = 2)]
    pub e2e_warmup: usize,
    /// Timed e2e jobs.
    #[arg(long, default_value_t = 10)]
    pub e2e_runs: usize,
    /// Concurrent HTTP clients, comma-separated (one measurement each).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16])]
    pub http_clients: Vec<usize>,
    /// Seconds each HTTP measurement lasts (requests finished by then count).
    #[arg(long, default_value_t = 30.0)]
    pub http_secs: f64,
    /// Instead of --http-secs: this many requests per measurement, shared by the clients.
    #[arg(long)]
    pub http_requests: Option<usize>,
    /// Untimed requests per client before each HTTP measurement.
    #[arg(long, default_value_t = 1)]
    pub http_warmup: usize,
    /// Most jobs one worker merges into its UNet calls (the server's --max-batch; default 8 on a GPU,
    /// 1 on the CPU). A comma list repeats the http part for each value.
    #[arg(long, value_delimiter = ',')]
    pub max_batch: Vec<usize>,
    /// Soft limit in seconds for each timed loop (a batch size, the e2e runs): it stops early, after
    /// at least one timed iteration, and reports how many it made.
    #[arg(long)]
    pub budget_secs: Option<f64>,
    /// Intra-op threads for the CPU provider (0 = ONNX Runtime's default).
    #[arg(long, default_value_t = 0)]
    pub intra_threads: usize,
    /// Where the embedded model is written out and TensorRT caches go (default: <tmp>/sdgate-bench).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Milliseconds between two GPU memory samples (nvidia-smi).
    #[arg(long, default_value_t = 200)]
    pub mem_poll_ms: u64,
    /// Run the UNet through IoBinding with device buffers (as `serve` does on a GPU).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub io_binding: bool,
    /// UNet shape buckets with a captured CUDA graph (0: none), as `serve --cuda-graphs`.
    #[arg(long, default_value_t = 16)]
    pub cuda_graphs: usize,
}

impl BenchArgs {
    pub fn wants(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }

    /// The --max-batch values, or the server's default (8 on a GPU, 1 on the CPU).
    pub fn max_batches(&self) -> Vec<usize> {
        if self.max_batch.is_empty() {
            vec![if self.provider.is_gpu() { 8 } else { 1 }]
        } else {
            self.max_batch.iter().map(|&b| b.max(1)).collect()
        }
    }

    /// Reject settings that cannot give a measurement.
    pub fn check(&self) -> Result<(), super::BenchError> {
        let bad = |m: &str| Err(super::BenchError::Invalid(m.into()));
        if self.parts.is_empty() {
            return bad("--parts is empty");
        }
        if self.unet_iters == 0 || self.e2e_runs == 0 {
            return bad("--unet-iters and --e2e-runs must be at least 1");
        }
        if self.unet_rows.iter().any(|&r| r == 0 || r > 4096) {
            return bad("--unet-rows must be between 1 and 4096");
        }
        if self.http_clients.iter().any(|&c| c == 0 || c > 1024) {
            return bad("--http-clients must be between 1 and 1024");
        }
        if !(self.http_secs.is_finite() && self.http_secs > 0.0) {
            return bad("--http-secs must be positive");
        }
        if self.http_requests == Some(0) {
            return bad("--http-requests must be at least 1");
        }
        if self.steps == 0 || self.steps > 1000 {
            return bad("--steps must be between 1 and 1000");
        }
        if self.context_len == 0 || self.context_len > 77 * 32 {
            return bad("--context-len must be between 1 and 2464");
        }
        if self.budget_secs.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
            return bad("--budget-secs must be positive");
        }
        Ok(())
    }
}
