use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sdgate::api::{ApiSettings, AppState, ServeContext};
use sdgate::config::DeviceSelection;
use sdgate::config::{Command, ConfigError, ServeArgs};
use sdgate::jobs::Metrics;
use sdgate::models::ModelRegistry;
use sdgate::pipeline::{Pipeline, warmup_job};
use sdgate::prompt::ti::EmbeddingDb;
use sdgate::runtime::backend::Backend;
use sdgate::runtime::pool::{DevicePool, PoolConfig, Warmup, WorkerWarmup};
use sdgate::runtime::provider::TensorRtOptions;
use sdgate::runtime::worker::{Observer, WorkerConfig, WorkerEvent};
use sdgate::runtime::{ProviderKind, ProviderOptions};
use sdgate::store::{GalleryStore, SavePolicy, StoreConfig};

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
        Command::Probe(args) => match sdgate::api::probe::status(&args) {
            Ok(200) => Ok(()),
            Ok(code) => Err(anyhow::anyhow!("{} answered {code}", args.path)),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Config(args) => serde_json::to_string_pretty(&*args)
            .map_err(anyhow::Error::from)
            .and_then(|s| write_stdout(&format!("{s}\n"))),
        Command::Bench(args) => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `sdgate bench`: run, write the report, print a short table and where the files are.
fn bench(args: &sdgate::bench::BenchArgs) -> anyhow::Result<()> {
    let (report, written) = sdgate::bench::run(args, std::env::args().collect())?;
    write_stdout(&format!(
        "{}results: {} and {} (appended to {})\n",
        report.short_table(),
        written.json.display(),
        written.markdown.display(),
        written.appended.display()
    ))
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
    let mut sources = args.models.sources()?;
    if sources.folders.is_empty() && sources.ckpt_dir.is_none() {
        let folder = sdgate::models::embedded::extract(&args.server.data_dir.join("cache"))
            .context("writing out the embedded tiny model")?;
        tracing::info!(
            "no model given: serving the embedded tiny model from {}",
            folder.root.display()
        );
        sources.folders.push(folder.root);
    }
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
    let embeddings = match &args.models.embeddings_dir {
        Some(dir) => EmbeddingDb::scan(dir).with_context(|| format!("reading embeddings from {}", dir.display()))?,
        None => EmbeddingDb::empty(),
    };
    let pipeline = Pipeline::new(embeddings);
    let backend = start_backend(&args, &registry, &metrics, &pipeline)?;
    exit_if_a_worker_cannot_start(backend.clone());
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut store_config = StoreConfig::new(&args.server.data_dir, &args.server.outputs_dir());
    if args.server.no_save {
        store_config.policy = SavePolicy::OnRequest;
    }
    let gallery = GalleryStore::open(store_config).with_context(|| {
        format!(
            "opening the gallery (outputs in {}, index in {}): the folders must be writable",
            args.server.outputs_dir().display(),
            args.server.data_dir.display()
        )
    })?;
    let pool = backend.clone();
    let served = rt.block_on(async {
        let state = AppState::new(backend, registry, metrics, ApiSettings::from_args(&args))
            .with_pipeline(pipeline)
            .with_gallery(gallery);
        sdgate::api::serve(ServeContext {
            state,
            bind: (args.server.bind_addr(), args.server.port),
            http_workers: args.server.http_workers,
            shutdown_timeout: Duration::from_secs(args.server.shutdown_timeout),
        })
        .await
    });
    // The HTTP server has drained; now the device workers finish and are joined before exit.
    tracing::info!("shutdown: stopping the device workers");
    pool.shutdown();
    served?;
    Ok(())
}

/// A provider that cannot start or a model that cannot load is a start-up error (exit 1 with the
/// reason), not a server that never becomes ready. HTTP starts meanwhile, so /health answers during a
/// long load (TensorRT engine builds) as the Kubernetes probes expect; the watch ends once every worker
/// holds its model (a later failed model switch is a job error, not an exit).
fn exit_if_a_worker_cannot_start(backend: Arc<dyn Backend>) {
    let watch = move || {
        loop {
            let devices = backend.devices();
            if devices.iter().all(|d| d.model.is_some()) {
                return;
            }
            if let Some(e) = devices
                .iter()
                .filter(|d| d.model.is_none())
                .find_map(|d| d.last_error.clone())
            {
                tracing::error!("a device worker could not start: {e}");
                eprintln!("error: a device worker could not start: {e}");
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    if let Err(e) = std::thread::Builder::new().name("startup-watch".into()).spawn(watch) {
        tracing::warn!("cannot watch the workers' start ({e})");
    }
}

/// One device worker per selected device, sharing the bounded queue; each loads the default model
/// and runs a small warm-up generation before /ready turns true.
fn start_backend(
    args: &ServeArgs,
    registry: &Arc<ModelRegistry>,
    metrics: &Arc<Metrics>,
    pipeline: &Arc<Pipeline>,
) -> anyhow::Result<Arc<dyn Backend>> {
    let rt = &args.runtime;
    let devices: Vec<i32> = match (&rt.device_id, rt.provider) {
        (_, ProviderKind::Cpu) => vec![0],
        (DeviceSelection::Ids(ids), _) => ids.clone(),
        (DeviceSelection::All, _) => {
            let n = std::fs::read_dir("/proc/driver/nvidia/gpus")
                .map(|d| d.count())
                .unwrap_or(0);
            anyhow::ensure!(
                n > 0,
                "--device-id all: no NVIDIA GPU found under /proc/driver/nvidia/gpus"
            );
            (0..n as i32).collect()
        }
    };
    let max_jobs = rt.max_batch.unwrap_or(if rt.provider.is_gpu() { 8 } else { 1 }).max(1);
    let workers = devices
        .iter()
        .map(|&id| WorkerConfig {
            device: if rt.provider.is_gpu() {
                format!("cuda:{id}")
            } else {
                "cpu".into()
            },
            provider: ProviderOptions {
                kind: rt.provider,
                device_id: id,
                fallback: rt.provider_fallback,
                io_binding: rt.provider.is_gpu(),
                cuda_graph: rt.provider.is_gpu() && rt.cuda_graphs > 0,
                max_cuda_graphs: rt.cuda_graphs,
                tensorrt: TensorRtOptions {
                    fp16: true,
                    cache_dir: Some(rt.trt_cache_dir(&args.server.data_dir)),
                    ..TensorRtOptions::default()
                },
                intra_threads: 0,
            },
            max_jobs,
            // cond + uncond rows of every merged job, up to 2 images each.
            max_rows: 4 * max_jobs,
        })
        .collect();
    let m = metrics.clone();
    let observer: Observer = Arc::new(move |event| match event {
        WorkerEvent::UnetCall { secs, .. } => m.observe_step(secs),
    });
    let reg = registry.clone();
    let warmup: Warmup = Arc::new(move |w: &mut WorkerWarmup<'_>| {
        let Some(model) = reg.current() else {
            return Err("no model to warm up".into());
        };
        let started = std::time::Instant::now();
        match w.run_job(warmup_job(model.folder.clone()))? {
            Ok(_) => {
                tracing::info!("warm-up generation done in {:.2} s", started.elapsed().as_secs_f64());
                Ok(())
            }
            Err(e) => Err(format!("warm-up generation failed: {e}")),
        }
    });
    let pool = DevicePool::start(
        PoolConfig {
            workers,
            queue_capacity: args.limits.queue_limit,
        },
        pipeline.factory(),
        Some(observer),
        warmup,
    );
    Ok(pool)
}
