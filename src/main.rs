use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sdgate::api::{ApiSettings, AppState, ServeContext};
use sdgate::config::{Command, ConfigError, ServeArgs};
use sdgate::jobs::Metrics;
use sdgate::models::ModelRegistry;
use sdgate::runtime::backend::Backend;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = match sdgate::config::load() {
        Ok(cli) => cli,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Openapi => write_stdout(&sdgate::api::openapi_json()),
        Command::Config(args) => serde_json::to_string_pretty(&*args)
            .map_err(anyhow::Error::from)
            .and_then(|s| write_stdout(&format!("{s}\n"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Print without panicking when the reader has gone (`sdgate openapi | head`).
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Into::into),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let lib = sdgate::runtime::library::load(args.runtime.ort_lib.as_deref())?;
    tracing::info!("ONNX Runtime loaded from {}", lib.display());
    let sources = args.models.sources()?;
    let registry = Arc::new(ModelRegistry::new(sources).context("loading the model folders")?);
    for e in registry.list() {
        tracing::info!("model {} from {}", e.title(), e.folder.root.display());
    }
    if let Some(name) = &args.models.model_name
        && let Err(e) = registry.set_current(name)
    {
        tracing::warn!("MODEL_NAME / --model-name: {e}; keeping the first model");
    }
    if registry.current().is_none() {
        tracing::warn!("no model found: generation answers 503 until one is configured (--model-dir, --ckpt-dir)");
    }
    let metrics = Arc::new(Metrics::new());
    let backend = start_backend(&args, &registry, &metrics)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let state = AppState::new(backend, registry, metrics, ApiSettings::from_args(&args));
        sdgate::api::serve(ServeContext {
            state,
            bind: (args.server.bind_addr(), args.server.port),
            http_workers: args.server.http_workers,
            shutdown_timeout: Duration::from_secs(args.server.shutdown_timeout),
        })
        .await
    })?;
    Ok(())
}

/// STUB until runtime::pool lands: the lead starts the device pool here (one worker per
/// --device-id, --provider, --max-batch, --queue-limit, --trt-cache-dir; it reports step times to
/// `metrics.observe_step`). Until then the server runs without a device: /ready is 503 and
/// generation answers 503.
fn start_backend(
    args: &ServeArgs,
    _registry: &Arc<ModelRegistry>,
    _metrics: &Arc<Metrics>,
) -> anyhow::Result<Arc<dyn Backend>> {
    tracing::warn!("no device pool in this build: generation is unavailable");
    Ok(Arc::new(NoBackend {
        capacity: args.limits.queue_limit,
    }))
}

// STUB until runtime::pool lands.
struct NoBackend {
    capacity: usize,
}

impl Backend for NoBackend {
    fn submit(
        &self,
        _job: sdgate::pipeline::GenerationJob,
        _control: Arc<sdgate::pipeline::JobControl>,
    ) -> Result<
        tokio::sync::oneshot::Receiver<sdgate::runtime::backend::JobResult>,
        sdgate::runtime::backend::SubmitError,
    > {
        Err(sdgate::runtime::backend::SubmitError::NoWorker)
    }
    fn queue_depth(&self) -> usize {
        0
    }
    fn queue_capacity(&self) -> usize {
        self.capacity
    }
    fn is_ready(&self) -> bool {
        false
    }
    fn devices(&self) -> Vec<sdgate::runtime::backend::DeviceStatus> {
        vec![]
    }
    fn drain(&self) {}
    fn in_flight(&self) -> usize {
        0
    }
}
