//! The device pool as `sdgate serve` builds it (main.rs `start_backend`), on one device.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BenchArgs, BenchError};
use crate::models::ModelFolder;
use crate::pipeline::{Pipeline, warmup_job};
use crate::runtime::backend::Backend;
use crate::runtime::pool::{DevicePool, PoolConfig, Warmup, WorkerWarmup};
use crate::runtime::provider::TensorRtOptions;
use crate::runtime::worker::WorkerConfig;
use crate::runtime::{ProviderKind, ProviderOptions};

/// How long a worker may take to load the model and finish its warm-up generation.
const READY_TIMEOUT: Duration = Duration::from_secs(900);

/// The serve path's provider options, without fallback (a benchmark must not measure another
/// provider than the one asked for).
pub fn provider_options(args: &BenchArgs, data_dir: &Path) -> ProviderOptions {
    ProviderOptions {
        kind: args.provider,
        device_id: args.device_id,
        fallback: false,
        io_binding: args.io_binding && args.provider.is_gpu(),
        cuda_graph: args.provider.is_gpu() && args.io_binding && args.cuda_graphs > 0,
        max_cuda_graphs: args.cuda_graphs,
        tensorrt: TensorRtOptions {
            fp16: true,
            cache_dir: Some(data_dir.join("trt-cache")),
            ..TensorRtOptions::default()
        },
        intra_threads: args.intra_threads,
    }
}

/// One worker on the device, merging up to `max_batch` jobs (UNet rows up to 4 × max_batch, as
/// serve does), warmed up with serve's warm-up job; returns once it is ready.
pub fn start(
    folder: &Arc<ModelFolder>,
    opts: ProviderOptions,
    max_batch: usize,
    pipeline: &Arc<Pipeline>,
) -> Result<Arc<DevicePool>, BenchError> {
    let device = if opts.kind == ProviderKind::Cpu {
        "cpu".to_string()
    } else {
        format!("cuda:{}", opts.device_id)
    };
    let model = folder.clone();
    let warmup: Warmup = Arc::new(
        move |w: &mut WorkerWarmup<'_>| match w.run_job(warmup_job(model.clone()))? {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("warm-up generation failed: {e}")),
        },
    );
    let pool = DevicePool::start(
        PoolConfig {
            workers: vec![WorkerConfig {
                device,
                provider: opts,
                max_jobs: max_batch,
                max_rows: 4 * max_batch,
            }],
            queue_capacity: 1024,
        },
        pipeline.factory(),
        None,
        warmup,
    );
    let started = Instant::now();
    loop {
        if pool.is_ready() {
            return Ok(pool);
        }
        let devices = pool.devices();
        if let Some(err) = devices.iter().find_map(|d| d.last_error.clone()) {
            stop(pool);
            return Err(BenchError::Pool(err));
        }
        if started.elapsed() > READY_TIMEOUT {
            stop(pool);
            return Err(BenchError::Pool(format!(
                "the worker was not ready after {} s",
                READY_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Close the pool and wait for its worker (frees the sessions).
pub fn stop(pool: Arc<DevicePool>) {
    pool.shutdown();
}
