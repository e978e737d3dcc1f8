//! A real device pool on the tiny model (CPU), for pipeline tests.
#![allow(dead_code)]

use std::sync::Arc;

use sdgate::models::ModelFolder;
use sdgate::pipeline::job::*;
use sdgate::pipeline::{GenerationJob, GenerationOutput, JobControl, Pipeline, warmup_job};
use sdgate::prompt::ti::EmbeddingDb;
use sdgate::runtime::ProviderOptions;
use sdgate::runtime::backend::Backend;
use sdgate::runtime::pool::{DevicePool, PoolConfig, Warmup, WorkerWarmup};
use sdgate::runtime::worker::WorkerConfig;

pub fn tiny_folder() -> Arc<ModelFolder> {
    Arc::new(ModelFolder::open(&super::tiny_model_dir()).unwrap())
}

/// A 9-channel inpainting model: the tiny folder with the inpainting fixture's UNet and manifest.
pub fn tiny_inpaint_folder(dir: &std::path::Path) -> Arc<ModelFolder> {
    super::copy_dir(&super::tiny_model_dir(), dir);
    let fx = super::repo().join("tests/fixtures/tiny-sd1-inpaint");
    std::fs::copy(fx.join("model.json"), dir.join("model.json")).unwrap();
    std::fs::copy(fx.join("unet/model.onnx"), dir.join("unet/model.onnx")).unwrap();
    Arc::new(ModelFolder::open(dir).unwrap())
}

/// A pool with one CPU worker driving up to `max_jobs` jobs at once.
pub fn start_pool(max_jobs: usize, queue: usize) -> Arc<DevicePool> {
    start_pool_with(max_jobs, queue, Pipeline::new(EmbeddingDb::empty()))
}

/// The same, with a given pipeline (e.g. textual-inversion embeddings).
pub fn start_pool_with(max_jobs: usize, queue: usize, pipeline: Arc<Pipeline>) -> Arc<DevicePool> {
    super::load_ort();
    let warm: Warmup = Arc::new(|w: &mut WorkerWarmup<'_>| match w.run_job(warmup_job(tiny_folder()))? {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    });
    let pool = DevicePool::start(
        PoolConfig {
            workers: vec![WorkerConfig {
                device: "cpu".into(),
                provider: ProviderOptions {
                    intra_threads: 1,
                    ..super::test_provider()
                },
                max_jobs,
                max_rows: 64,
            }],
            queue_capacity: queue,
        },
        pipeline.factory(),
        None,
        warm,
    );
    for _ in 0..600 {
        if pool.is_ready() {
            return pool;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the pool did not become ready: {:?}", pool.devices());
}

pub fn txt2img(prompt: &str, seed: u64, steps: usize) -> GenerationJob {
    let mut j = warmup_job(tiny_folder());
    j.prompt = prompt.into();
    j.negative_prompt = "blurry".into();
    j.seed.seed = seed;
    j.steps = steps;
    j.output.return_latents = true;
    j
}

pub fn with_sampler(mut j: GenerationJob, sampler: &str, scheduler: &str) -> GenerationJob {
    j.sampler = SamplerChoice {
        sampler: sampler.into(),
        scheduler: scheduler.into(),
    };
    j
}

/// Submit and wait (blocking).
pub fn run(pool: &DevicePool, job: GenerationJob) -> GenerationOutput {
    run_with(pool, job, Arc::new(JobControl::new()))
}

pub fn run_with(pool: &DevicePool, job: GenerationJob, control: Arc<JobControl>) -> GenerationOutput {
    let rx = pool.submit(job, control).expect("accepted");
    rx.blocking_recv().expect("answered").expect("generated")
}

/// The HTTP app state on the real pool and the tiny model (registry: the tiny model only).
pub fn real_state(max_jobs: usize, pipeline: Arc<Pipeline>) -> sdgate::api::AppState {
    use sdgate::api::{ApiSettings, AppState};
    use sdgate::models::{ModelRegistry, ModelSources};
    let registry = Arc::new(
        ModelRegistry::new(ModelSources {
            folders: vec![super::tiny_model_dir()],
            ckpt_dir: None,
        })
        .unwrap(),
    );
    let pool = start_pool_with(max_jobs, 16, pipeline.clone());
    let settings = ApiSettings {
        poll_interval: std::time::Duration::from_millis(10),
        ..ApiSettings::default()
    };
    AppState::new(pool, registry, Arc::new(sdgate::jobs::Metrics::new()), settings).with_pipeline(pipeline)
}
