//! Part 2: txt2img jobs through the device pool, one at a time, with the time inside ONNX Runtime
//! (per graph, from the process-wide graph clock) and outside it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::E2e;
use super::stats::{Summary, ms, timed_loop};
use super::{BenchArgs, BenchError};
use crate::models::ModelFolder;
use crate::pipeline::job::{SamplerChoice, SeedSettings};
use crate::pipeline::{GenerationJob, JobControl, warmup_job};
use crate::rng::RngSource;
use crate::runtime::backend::Backend;
use crate::runtime::graph::{GRAPH_NAMES, GraphTime, graph_times};
use crate::runtime::pool::DevicePool;

pub const PROMPT: &str = "a photograph of an astronaut riding a horse on mars, highly detailed";
pub const NEGATIVE: &str = "blurry, low quality";

/// The benchmark's txt2img job (serve's warm-up job with the bench's size, steps and sampler).
pub fn job(folder: &Arc<ModelFolder>, args: &BenchArgs, size: usize, seed: u64) -> GenerationJob {
    let mut j = warmup_job(folder.clone());
    j.prompt = PROMPT.into();
    j.negative_prompt = NEGATIVE.into();
    j.sampler = SamplerChoice {
        sampler: args.sampler.clone(),
        scheduler: args.scheduler.clone(),
    };
    j.steps = args.steps;
    j.cfg_scale = args.cfg_scale;
    j.width = size;
    j.height = size;
    j.seed = SeedSettings {
        seed,
        subseed: 0,
        subseed_strength: 0.0,
        resize_from: None,
        source: RngSource::Gpu,
        eta_noise_seed_delta: 0,
    };
    j
}

struct Run {
    total_ms: f64,
    graphs: [GraphTime; 4],
}

fn one(pool: &DevicePool, job: GenerationJob) -> Result<Run, BenchError> {
    let before = graph_times();
    let started = Instant::now();
    let rx = pool.submit(job, Arc::new(JobControl::new()))?;
    let out = rx
        .blocking_recv()
        .map_err(|_| BenchError::Pool("the worker dropped the job".into()))??;
    let total = started.elapsed();
    let after = graph_times();
    if out.images.is_empty() || out.interrupted {
        return Err(BenchError::Pool("the job returned no image".into()));
    }
    Ok(Run {
        total_ms: ms(total),
        graphs: std::array::from_fn(|i| after[i].since(before[i])),
    })
}

pub fn run(
    pool: &DevicePool,
    folder: &Arc<ModelFolder>,
    args: &BenchArgs,
    size: usize,
    max_batch: usize,
) -> Result<E2e, BenchError> {
    let budget = args.budget_secs.map(Duration::from_secs_f64);
    let mut seed = 0u64;
    let runs = timed_loop(args.e2e_warmup, args.e2e_runs, budget, || {
        seed += 1;
        one(pool, job(folder, args, size, seed))
    })?;
    let total: Vec<f64> = runs.iter().map(|r| r.total_ms).collect();
    let ort: Vec<f64> = runs
        .iter()
        .map(|r| r.graphs.iter().map(|g| g.ort_ns as f64 / 1e6).sum())
        .collect();
    let conversion: Vec<f64> = runs
        .iter()
        .map(|r| {
            r.graphs
                .iter()
                .map(|g| g.call_ns.saturating_sub(g.ort_ns) as f64 / 1e6)
                .sum()
        })
        .collect();
    let outside: Vec<f64> = total.iter().zip(&ort).map(|(t, o)| (t - o).max(0.0)).collect();
    let overhead: Vec<f64> = total.iter().zip(&outside).map(|(t, o)| o / t).collect();
    let mut per_graph = BTreeMap::new();
    let mut calls = BTreeMap::new();
    for (i, name) in GRAPH_NAMES.iter().enumerate() {
        let v: Vec<f64> = runs.iter().map(|r| r.graphs[i].ort_ns as f64 / 1e6).collect();
        let n = runs.first().map_or(0, |r| r.graphs[i].calls);
        if n > 0 {
            if let Some(s) = Summary::of(&v) {
                per_graph.insert(name.to_string(), s);
            }
            calls.insert(name.to_string(), n);
        }
    }
    let summary = |v: &[f64]| Summary::of(v).ok_or_else(|| BenchError::Invalid("no e2e run".into()));
    Ok(E2e {
        size: [size, size],
        steps: args.steps,
        sampler: args.sampler.clone(),
        scheduler: args.scheduler.clone(),
        cfg_scale: args.cfg_scale,
        batch_size: 1,
        max_batch,
        warmup: args.e2e_warmup,
        runs: runs.len(),
        total_ms: summary(&total)?,
        ort_ms: summary(&ort)?,
        ort_ms_by_graph: per_graph,
        graph_calls_per_job: calls,
        conversion_ms: summary(&conversion)?,
        outside_ms: summary(&outside)?,
        gateway_overhead: summary(&overhead)?,
        total_ms_samples: total,
        ort_ms_samples: ort,
    })
}
