//! The result: one JSON document (schema `sdgate-bench/1`, shared with the Python baselines under
//! benches/gpu/) and its Markdown rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::memory::MemoryReport;
use super::stats::Summary;
use super::system::Host;

pub const SCHEMA: &str = "sdgate-bench/1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: String,
    /// What produced it: "sdgate" here; "torch" and "ort-python" for the baselines.
    pub tool: String,
    pub meta: Meta,
    pub unet_steps: Option<UnetSteps>,
    pub e2e: Option<E2e>,
    pub http: Option<Http>,
    pub memory: MemoryReport,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When the run started (UTC, RFC 3339).
    pub date: String,
    pub command_line: Vec<String>,
    pub git_commit: Option<String>,
    pub sdgate_version: String,
    pub card: String,
    /// The provider the sessions ran on.
    pub provider: String,
    pub device_id: i32,
    pub host: Host,
    pub ort_library: String,
    pub model: ModelMeta,
    /// The bench's own settings, as parsed.
    pub settings: serde_json::Value,
    pub elapsed_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelMeta {
    pub dir: String,
    /// The manifest's name.
    pub name: String,
    pub source: String,
    /// Per graph: "fp16" / "fp32".
    pub precision: BTreeMap<String, String>,
    /// Per graph: "any" (plain ONNX) / "cuda" (fused operators).
    pub graph_provider: BTreeMap<String, String>,
    pub default_image_size: usize,
    pub vae_scale_factor: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnetSteps {
    pub channels: usize,
    pub latent: [usize; 2],
    pub context_len: usize,
    pub hidden: usize,
    pub warmup: usize,
    pub iters: usize,
    pub tflop_per_row: Option<f64>,
    /// What `ms` covers.
    pub timed: String,
    pub rows: Vec<UnetRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnetRow {
    /// Rows of the call (the CFG batch: 2 per image).
    pub rows: usize,
    pub images: usize,
    /// Timed calls made (fewer than asked when --budget-secs ran out).
    pub iters: usize,
    pub ms: Summary,
    pub ort_ms: Summary,
    /// Calls per second at the median (the WebUI's it/s for rows = 2).
    pub steps_per_s: f64,
    /// Image-steps per second at the median (steps_per_s × images).
    pub image_steps_per_s: f64,
    pub tflops: Option<f64>,
    /// Seconds this batch size took, warm-up included.
    pub wall_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct E2e {
    pub size: [usize; 2],
    pub steps: usize,
    pub sampler: String,
    pub scheduler: String,
    pub cfg_scale: f32,
    pub batch_size: usize,
    pub max_batch: usize,
    pub warmup: usize,
    pub runs: usize,
    /// Submit to result, per job.
    pub total_ms: Summary,
    /// Inside ONNX Runtime (Session::run of every graph), per job.
    pub ort_ms: Summary,
    pub ort_ms_by_graph: BTreeMap<String, Summary>,
    pub graph_calls_per_job: BTreeMap<String, u64>,
    /// Building input tensors and copying outputs (f16 ⇄ f32), per job; part of outside_ms.
    pub conversion_ms: Summary,
    /// total − ort, per job.
    pub outside_ms: Summary,
    /// outside / total, per job (the "gateway overhead").
    pub gateway_overhead: Summary,
    pub total_ms_samples: Vec<f64>,
    /// In ONNX Runtime, per job, in the order of `total_ms_samples`.
    pub ort_ms_samples: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Http {
    pub size: [usize; 2],
    pub steps: usize,
    pub sampler: String,
    pub scheduler: String,
    pub endpoint: String,
    pub client: String,
    pub runs: Vec<HttpRun>,
    /// images/s at the most clients over images/s with one, per max_batch.
    pub speedup: Vec<Speedup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpRun {
    pub max_batch: usize,
    pub clients: usize,
    pub warmup_per_client: usize,
    /// "duration" (requests finished within `seconds`) or "requests" (a fixed count).
    pub mode: String,
    pub seconds: f64,
    pub requests: usize,
    pub images: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub images_per_s: f64,
    pub latency_ms: Option<Summary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Speedup {
    pub max_batch: usize,
    pub clients: usize,
    pub over_clients: usize,
    pub ratio: f64,
}

pub fn speedups(runs: &[HttpRun]) -> Vec<Speedup> {
    let mut batches: Vec<usize> = runs.iter().map(|r| r.max_batch).collect();
    batches.dedup();
    let mut out = Vec::new();
    for b in batches {
        let mine: Vec<&HttpRun> = runs
            .iter()
            .filter(|r| r.max_batch == b && r.images_per_s > 0.0)
            .collect();
        let lo = mine.iter().min_by_key(|r| r.clients);
        let hi = mine.iter().max_by_key(|r| r.clients);
        if let (Some(lo), Some(hi)) = (lo, hi)
            && hi.clients > lo.clients
        {
            out.push(Speedup {
                max_batch: b,
                clients: hi.clients,
                over_clients: lo.clients,
                ratio: hi.images_per_s / lo.images_per_s,
            });
        }
    }
    out
}

fn f(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(f).unwrap_or_else(|| "–".into())
}

impl Report {
    /// The whole report as Markdown: a header, then one table per part.
    pub fn markdown(&self) -> String {
        let m = &self.meta;
        let mut s = String::new();
        let prec = |g: &str| m.model.precision.get(g).cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "## sdgate bench: {} on {} ({}), {}\n",
            m.model.name, m.card, m.provider, m.date
        );
        let _ = writeln!(s, "- command: `{}`", m.command_line.join(" "));
        let _ = writeln!(
            s,
            "- commit: {}; sdgate {}; ONNX Runtime: {}",
            m.git_commit.as_deref().unwrap_or("unknown"),
            m.sdgate_version,
            m.ort_library
        );
        let _ = writeln!(
            s,
            "- model: {} ({}), UNet {} / text encoder {} / VAE decoder {}, graphs for provider {}",
            m.model.name,
            m.model.dir,
            prec("unet"),
            prec("text_encoder"),
            prec("vae_decoder"),
            m.model.graph_provider.get("unet").cloned().unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "- host: {} ({} threads), {}; elapsed {:.0} s\n",
            m.host.cpu, m.host.threads, m.host.os, m.elapsed_s
        );
        if let Some(u) = &self.unet_steps {
            let _ = writeln!(
                s,
                "### UNet step (Engine::unet), latent {}×{}, context {}×{}, warm-up {}, {} timed calls\n",
                u.latent[0], u.latent[1], u.context_len, u.hidden, u.warmup, u.iters
            );
            let _ = writeln!(
                s,
                "| rows (images) | median ms | p95 ms | in ORT ms | steps/s | image-steps/s | TFLOP/s | n |"
            );
            let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
            for r in &u.rows {
                let _ = writeln!(
                    s,
                    "| {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
                    r.rows,
                    r.images,
                    f(r.ms.median),
                    f(r.ms.p95),
                    f(r.ort_ms.median),
                    f(r.steps_per_s),
                    f(r.image_steps_per_s),
                    opt(r.tflops),
                    r.iters
                );
            }
            s.push('\n');
        }
        if let Some(e) = &self.e2e {
            let _ = writeln!(
                s,
                "### End to end: txt2img {}×{}, {} steps, {} / {}, CFG {}, one job at a time ({} runs, warm-up {})\n",
                e.size[0], e.size[1], e.steps, e.sampler, e.scheduler, e.cfg_scale, e.runs, e.warmup
            );
            let g = |name: &str| e.ort_ms_by_graph.get(name).map(|x| x.median);
            let _ = writeln!(
                s,
                "| total p50 ms | total p95 ms | in ORT ms | UNet ms | text ms | VAE dec ms | outside ORT ms | of which f16⇄f32 ms | gateway overhead |"
            );
            let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} % |\n",
                f(e.total_ms.p50),
                f(e.total_ms.p95),
                f(e.ort_ms.median),
                opt(g("unet")),
                opt(g("text_encoder")),
                opt(g("vae_decoder")),
                f(e.outside_ms.median),
                f(e.conversion_ms.median),
                100.0 * e.gateway_overhead.median
            );
        }
        if let Some(h) = &self.http {
            let _ = writeln!(
                s,
                "### HTTP: {} {}×{}, {} steps, {} ({})\n",
                h.endpoint, h.size[0], h.size[1], h.steps, h.sampler, h.client
            );
            let _ = writeln!(
                s,
                "| max batch | clients | images/s | latency p50 ms | p95 ms | requests | seconds | errors |"
            );
            let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
            for r in &h.runs {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {:.1} | {} |",
                    r.max_batch,
                    r.clients,
                    f(r.images_per_s),
                    opt(r.latency_ms.map(|l| l.p50)),
                    opt(r.latency_ms.map(|l| l.p95)),
                    r.requests,
                    r.seconds,
                    r.errors
                );
            }
            for sp in &h.speedup {
                let _ = writeln!(
                    s,
                    "\nSpeed-up, {} clients over {} (max batch {}): {:.2}×",
                    sp.clients, sp.over_clients, sp.max_batch, sp.ratio
                );
            }
            s.push('\n');
        }
        let mem = &self.memory;
        let _ = writeln!(s, "### Peak memory\n");
        let _ = writeln!(s, "| part | GPU MiB | host peak RSS MiB |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for p in &mem.parts {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                p.part,
                p.gpu_peak_mib.map_or("–".into(), |x| x.to_string()),
                opt(p.host_peak_rss_mib)
            );
        }
        let _ = writeln!(
            s,
            "| all | {} | {} |",
            mem.gpu_peak_mib.map_or("–".into(), |x| x.to_string()),
            opt(mem.host_peak_rss_mib)
        );
        let _ = writeln!(
            s,
            "\nGPU: {}; before loading: {} MiB. Host RSS peaks are {}.",
            mem.gpu_source.as_deref().unwrap_or("not measured"),
            mem.gpu_before_mib.map_or("–".into(), |x| x.to_string()),
            if mem.host_peak_rss_is_per_part {
                "per part"
            } else {
                "since the process started"
            }
        );
        for n in &self.notes {
            let _ = writeln!(s, "\n- {n}");
        }
        s
    }

    /// A few lines for the terminal.
    pub fn short_table(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.unet_steps {
            for r in &u.rows {
                let _ = writeln!(
                    s,
                    "unet  rows {:>3}: median {:>9} ms  p95 {:>9} ms  {:>8} steps/s{}",
                    r.rows,
                    f(r.ms.median),
                    f(r.ms.p95),
                    f(r.steps_per_s),
                    r.tflops.map(|t| format!("  {} TFLOP/s", f(t))).unwrap_or_default()
                );
            }
        }
        if let Some(e) = &self.e2e {
            let _ = writeln!(
                s,
                "e2e   {}x{} {} steps: p50 {} ms  p95 {} ms  in ORT {} ms  overhead {:.1} %",
                e.size[0],
                e.size[1],
                e.steps,
                f(e.total_ms.p50),
                f(e.total_ms.p95),
                f(e.ort_ms.median),
                100.0 * e.gateway_overhead.median
            );
        }
        if let Some(h) = &self.http {
            for r in &h.runs {
                let _ = writeln!(
                    s,
                    "http  max batch {:>2}, {:>2} clients: {:>8} images/s  p50 {} ms  p95 {} ms  ({} requests, {} errors)",
                    r.max_batch,
                    r.clients,
                    f(r.images_per_s),
                    opt(r.latency_ms.map(|l| l.p50)),
                    opt(r.latency_ms.map(|l| l.p95)),
                    r.requests,
                    r.errors
                );
            }
            for sp in &h.speedup {
                let _ = writeln!(
                    s,
                    "http  speed-up {} vs {} clients (max batch {}): {:.2}x",
                    sp.clients, sp.over_clients, sp.max_batch, sp.ratio
                );
            }
        }
        let _ = writeln!(
            s,
            "mem   GPU peak {} MiB, host peak RSS {} MiB",
            self.memory.gpu_peak_mib.map_or("–".into(), |x| x.to_string()),
            opt(self.memory.host_peak_rss_mib)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(b: usize, c: usize, ips: f64) -> HttpRun {
        HttpRun {
            max_batch: b,
            clients: c,
            warmup_per_client: 1,
            mode: "duration".into(),
            seconds: 1.0,
            requests: 1,
            images: 1,
            errors: 0,
            first_error: None,
            images_per_s: ips,
            latency_ms: None,
        }
    }

    #[test]
    fn speedup_is_most_clients_over_fewest_per_batch() {
        let s = speedups(&[run(8, 1, 2.0), run(8, 4, 5.0), run(8, 16, 8.0), run(1, 1, 2.0)]);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].max_batch, s[0].clients, s[0].over_clients), (8, 16, 1));
        assert!((s[0].ratio - 4.0).abs() < 1e-12);
    }
}
