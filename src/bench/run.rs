//! The whole benchmark: load, run the parts asked for, write the JSON and Markdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::memory::MemoryProbe;
use super::report::{self, Http, Meta, ModelMeta, Report};
use super::{BenchArgs, BenchError, Part, e2e, http, pool, system, unet};
use crate::models::ModelFolder;
use crate::models::manifest::{Graph, GraphProvider, Precision};
use crate::models::{ModelRegistry, ModelSources};
use crate::pipeline::Pipeline;
use crate::prompt::ti::EmbeddingDb;
use crate::runtime::Engine;
use crate::runtime::backend::Backend;

/// Where the results went.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub markdown: PathBuf,
    /// The Markdown is also appended here.
    pub appended: PathBuf,
}

fn precision(p: Precision) -> String {
    match p {
        Precision::Fp32 => "fp32".into(),
        Precision::Fp16 => "fp16".into(),
    }
}

fn model_meta(folder: &ModelFolder) -> ModelMeta {
    let g = &folder.manifest.graphs;
    let graphs: [(&str, &Graph); 4] = [
        ("text_encoder", &g.text_encoder),
        ("unet", &g.unet),
        ("vae_encoder", &g.vae_encoder),
        ("vae_decoder", &g.vae_decoder),
    ];
    ModelMeta {
        dir: folder.root.display().to_string(),
        name: folder.manifest.name.clone(),
        source: folder.manifest.source.file_name.clone(),
        precision: graphs
            .iter()
            .map(|(n, g)| (n.to_string(), precision(g.precision)))
            .collect(),
        graph_provider: graphs
            .iter()
            .map(|(n, g)| {
                let p = match g.provider {
                    GraphProvider::Any => "any",
                    GraphProvider::Cuda => "cuda",
                };
                (n.to_string(), p.to_string())
            })
            .collect(),
        default_image_size: folder.manifest.default_image_size,
        vae_scale_factor: folder.manifest.vae_scale_factor,
    }
}

fn say(line: &str) {
    eprintln!("[bench] {line}");
}

/// Run the benchmark described by `args`; `command_line` is recorded in the report. Writes
/// `<out>/sdgate-<tag>.json` and `.md` and appends the Markdown to `<out>/REPORT.md`.
pub fn run(args: &BenchArgs, command_line: Vec<String>) -> Result<(Report, Written), BenchError> {
    args.check()?;
    let began = Instant::now();
    let date = system::now();
    let lib = crate::runtime::library::load(args.ort_lib.as_deref()).map_err(crate::runtime::RuntimeError::from)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("sdgate-bench"));
    let folder = Arc::new(match &args.model_dir {
        Some(dir) => ModelFolder::open(dir)?,
        None => crate::models::embedded::extract(&data_dir.join("cache"))?,
    });
    let m = &folder.manifest;
    let size = args.size.unwrap_or(m.default_image_size);
    if size == 0 || !size.is_multiple_of(m.vae_scale_factor) || size > 4096 {
        return Err(BenchError::Invalid(format!(
            "--size {size} must be a positive multiple of the model's vae_scale_factor {} (at most 4096)",
            m.vae_scale_factor
        )));
    }
    let host = system::host();
    let card = system::card(args.card.as_deref(), args.provider, args.device_id, &host);
    say(&format!(
        "{} ({}) on {card}, provider {}, {size}×{size}, parts {:?}",
        m.name,
        folder.root.display(),
        args.provider,
        args.parts
    ));
    let mut mem = MemoryProbe::start(
        args.provider.is_gpu(),
        args.device_id,
        Duration::from_millis(args.mem_poll_ms),
    );
    let opts = pool::provider_options(args, &data_dir);
    let mut notes = Vec::new();
    let mut provider_used = args.provider.to_string();

    let unet_steps = if args.wants(Part::Unet) {
        mem.begin_part();
        let loaded = Instant::now();
        let mut engine = Engine::load((*folder).clone(), &opts)?;
        provider_used = engine.provider.to_string();
        say(&format!(
            "UNet part: model loaded in {:.1} s",
            loaded.elapsed().as_secs_f64()
        ));
        let shape = unet::Shape {
            channels: m.unet_in_channels,
            latent: (size / m.vae_scale_factor, size / m.vae_scale_factor),
            context_len: args.context_len,
            hidden: m.text.hidden_size,
        };
        let r = unet::run(&mut engine, args, &shape, |row| {
            say(&format!(
                "unet rows {}: median {:.3} ms, p95 {:.3} ms ({} calls)",
                row.rows, row.ms.median, row.ms.p95, row.iters
            ))
        })?;
        drop(engine);
        mem.end_part("unet");
        Some(r)
    } else {
        None
    };

    let mut e2e_result = None;
    let mut http_result = None;
    if args.wants(Part::E2e) || args.wants(Part::Http) {
        let pipeline = Pipeline::new(EmbeddingDb::empty());
        let registry = Arc::new(ModelRegistry::new(ModelSources {
            folders: vec![folder.root.clone()],
            ckpt_dir: None,
        })?);
        // Jobs must carry the registry's folder (the worker compares roots; the HTTP path uses it).
        let folder = registry
            .current()
            .map(|e| e.folder.clone())
            .ok_or_else(|| BenchError::Invalid("the model folder did not register".into()))?;
        let mut runs = Vec::new();
        for (i, &max_batch) in args.max_batches().iter().enumerate() {
            mem.begin_part();
            let loaded = Instant::now();
            let p = pool::start(&folder, opts.clone(), max_batch, &pipeline)?;
            if let Some(d) = p.devices().first() {
                provider_used = d.provider.clone();
            }
            say(&format!(
                "pool (max batch {max_batch}) ready in {:.1} s (load and warm-up)",
                loaded.elapsed().as_secs_f64()
            ));
            if i == 0 && args.wants(Part::E2e) {
                let r = e2e::run(&p, &folder, args, size, max_batch)?;
                say(&format!(
                    "e2e: p50 {:.1} ms, p95 {:.1} ms, in ORT {:.1} ms, overhead {:.1} %",
                    r.total_ms.p50,
                    r.total_ms.p95,
                    r.ort_ms.median,
                    100.0 * r.gateway_overhead.median
                ));
                e2e_result = Some(r);
                mem.end_part("e2e");
                mem.begin_part();
            }
            if args.wants(Part::Http) {
                let backend: Arc<dyn Backend> = p.clone();
                let server = http::Server::start(backend, registry.clone())?;
                say(&format!("HTTP server on {}", server.addr));
                for &clients in &args.http_clients {
                    let r = http::measure(server.addr, args, size, clients, max_batch)?;
                    say(&format!(
                        "http max batch {max_batch}, {clients} clients: {:.3} images/s, {} requests, {} errors{}",
                        r.images_per_s,
                        r.requests,
                        r.errors,
                        r.first_error
                            .as_ref()
                            .map(|e| format!(" (first: {e})"))
                            .unwrap_or_default()
                    ));
                    runs.push(r);
                }
                server.stop();
                mem.end_part(&format!("http-max-batch-{max_batch}"));
            } else {
                mem.end_part("pool");
            }
            pool::stop(p);
        }
        if args.wants(Part::Http) {
            http_result = Some(Http {
                size: [size, size],
                steps: args.steps,
                sampler: args.sampler.clone(),
                scheduler: args.scheduler.clone(),
                endpoint: "POST /sdapi/v1/txt2img".into(),
                client: "minimal HTTP/1.1 client over std TcpStream, one connection per request".into(),
                speedup: report::speedups(&runs),
                runs,
            });
            notes.push(
                "HTTP jobs run as serve runs them, with the default options (live previews every 10 steps, \
                 from the approximate decoder)."
                    .into(),
            );
        }
    }
    if provider_used != args.provider.to_string() {
        notes.push(format!("asked for {}, ran on {provider_used}", args.provider));
    }
    let memory = mem.finish();
    let settings = serde_json::to_value(args)?;
    let report = Report {
        schema: report::SCHEMA.into(),
        tool: "sdgate".into(),
        meta: Meta {
            date,
            command_line,
            git_commit: system::git_commit(),
            sdgate_version: env!("CARGO_PKG_VERSION").into(),
            card,
            provider: provider_used,
            device_id: args.device_id,
            host,
            ort_library: lib.display().to_string(),
            model: model_meta(&folder),
            settings,
            elapsed_s: began.elapsed().as_secs_f64(),
        },
        unet_steps,
        e2e: e2e_result,
        http: http_result,
        memory,
        notes,
    };
    let written = write(&report, args)?;
    Ok((report, written))
}

fn write(report: &Report, args: &BenchArgs) -> Result<Written, BenchError> {
    let out: &Path = &args.out;
    std::fs::create_dir_all(out).map_err(BenchError::io(format!("creating {}", out.display())))?;
    let tag = args.tag.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            report.meta.provider,
            report.meta.model.precision.get("unet").cloned().unwrap_or_default()
        )
    });
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let json = out.join(format!("sdgate-{tag}.json"));
    let markdown = out.join(format!("sdgate-{tag}.md"));
    let appended = out.join("REPORT.md");
    let text = serde_json::to_string_pretty(report)? + "\n";
    std::fs::write(&json, text).map_err(BenchError::io(format!("writing {}", json.display())))?;
    let md = report.markdown();
    std::fs::write(&markdown, &md).map_err(BenchError::io(format!("writing {}", markdown.display())))?;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&appended)
        .map_err(BenchError::io(format!("opening {}", appended.display())))?;
    f.write_all(format!("{md}\n").as_bytes())
        .map_err(BenchError::io(format!("appending to {}", appended.display())))?;
    Ok(Written {
        json,
        markdown,
        appended,
    })
}
