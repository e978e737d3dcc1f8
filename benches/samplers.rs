//! Per-step overhead of every sampler (its own arithmetic, state machine and noise handling) with a trivial
//! denoiser `D(x, σ) = x` that hands the evaluated latents straight back, at 1×4×64×64 (one 512² image) and
//! 16×4×128×128 (a batch of 16 1024² images). Throughput is in evaluations, so 1/throughput is the
//! sampler's cost per UNet call.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array4;
use sdgate::samplers::{
    Latents, ModelSchedule, ModelScheduleConfig, NoiseSource, Pass, Sampler, SamplerParams, SamplerSpec,
    ScheduleOptions, SdeNoise, Start, Step, all_samplers,
};

const STEPS: usize = 10;

struct Noise(Latents);

impl NoiseSource for Noise {
    fn randn_like(&mut self, _x: &Latents) -> Latents {
        self.0.clone()
    }
}

impl SdeNoise for Noise {
    fn noise(&mut self, _sigma: f32, _sigma_next: f32) -> Latents {
        self.0.clone()
    }
}

fn pattern(shape: (usize, usize, usize, usize)) -> Latents {
    Array4::from_shape_fn(shape, |(a, b, c, d)| {
        (((a * 7 + b * 5 + c * 3 + d) % 17) as f32 - 8.0) / 8.0
    })
}

fn build(name: &str, model: &ModelSchedule, x: &Latents) -> Box<dyn Sampler> {
    let spec = SamplerSpec::resolve(name, None).expect("sampler");
    let plan = spec
        .plan(model, Pass::Txt2Img { steps: STEPS }, &ScheduleOptions::default())
        .expect("plan");
    plan.build(
        &SamplerParams::default(),
        Start::Txt2Img { noise: x.clone() },
        Box::new(Noise(x.clone())),
        Some(Box::new(Noise(x.clone()))),
    )
    .expect("build")
}

/// Drives a sampler to the end with D = x (and the same as the unconditional prediction); returns the
/// number of evaluations.
fn drive(mut s: Box<dyn Sampler>) -> usize {
    let mut d: Option<Latents> = None;
    let needs_uncond = s.guidance().needs_uncond;
    let mut evals = 0;
    loop {
        let u = if needs_uncond { d.clone() } else { None };
        match s.next_with_uncond(d.take(), u).expect("step") {
            Step::Evaluate { x, .. } => {
                evals += 1;
                d = Some(x);
            }
            Step::Done(x) => {
                std::hint::black_box(x);
                return evals;
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let model = ModelSchedule::new(&ModelScheduleConfig::sd15()).expect("model");
    for (label, shape) in [("1x4x64x64", (1, 4, 64, 64)), ("16x4x128x128", (16, 4, 128, 128))] {
        let x = pattern(shape);
        let mut group = c.benchmark_group(format!("sampler_step/{label}"));
        group.sample_size(10);
        group.warm_up_time(std::time::Duration::from_millis(300));
        group.measurement_time(std::time::Duration::from_secs(if shape.0 == 1 { 1 } else { 3 }));
        for info in all_samplers() {
            let evals = drive(build(info.name, &model, &x));
            group.throughput(Throughput::Elements(evals as u64));
            group.bench_with_input(BenchmarkId::from_parameter(info.name), &info.name, |b, name| {
                b.iter_batched(|| build(name, &model, &x), drive, BatchSize::PerIteration)
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
