//! Configuration: one clap tree, every flag with an environment variable, and an optional TOML file.
//!
//! Flag names follow the WebUI's where they mean the same thing. Precedence, highest first:
//! command line > environment (`SDGATE_*`, and the seed's `MODEL_DIR`/`MODEL_FILE`/`MODEL_NAME`) >
//! the TOML file (`--config` / `SDGATE_CONFIG`, keys are the flag names) > built-in defaults.
//! The groups (server, models, runtime, limits) are small structs handed down separately.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;

use crate::models::{ModelFolder, ModelSources};
use crate::runtime::ProviderKind;

/// Errors while reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("cannot read the config file {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid --api-auth: {0}")]
    Auth(String),
    #[error("invalid --device-id {0:?}: expected a number, a comma list of numbers, or \"all\"")]
    DeviceId(String),
    #[error("model: {0}")]
    Model(String),
}

#[derive(Debug, Parser)]
#[command(
    name = "sdgate",
    version,
    about = "Stable Diffusion on ONNX Runtime, WebUI-compatible API"
)]
pub struct Cli {
    /// A TOML file whose keys are flag names (e.g. `port = 7860`, `api-auth = "u:p"`); command-line
    /// flags and environment variables win over it.
    #[arg(long, global = true, env = "SDGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server.
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI document (JSON) to standard output.
    Openapi,
    /// Print the effective `serve` configuration (secrets redacted) as JSON and exit.
    Config(Box<ServeArgs>),
    /// Measure UNet step latency, end-to-end latency and HTTP throughput (benches/README.md).
    Bench(Box<crate::bench::BenchArgs>),
    /// Ask a running server on this host for /health or /ready, with the --api-auth credentials:
    /// exit 0 on 200, 1 otherwise. Container health checks and Kubernetes exec probes use it, so
    /// auth can cover every route, the probes included.
    Probe(ProbeArgs),
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct ProbeArgs {
    /// The path to ask for.
    #[arg(long, default_value = "/health")]
    pub path: String,
    /// The server's port.
    #[arg(long, env = "SDGATE_PORT", default_value_t = 7860)]
    pub port: u16,
    /// Credentials (the first pair is sent).
    #[arg(
        long,
        env = "SDGATE_API_AUTH",
        hide_env_values = true,
        value_name = "USER:PASS[,...]"
    )]
    pub api_auth: Option<Credentials>,
    /// Seconds before giving up.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

#[derive(Debug, Clone, Args, Serialize)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The HTTP server.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ServerArgs {
    /// Listen on all interfaces (0.0.0.0) instead of 127.0.0.1, or on the address given.
    #[arg(long, env = "SDGATE_LISTEN", num_args = 0..=1, default_missing_value = "0.0.0.0", value_name = "ADDR")]
    pub listen: Option<IpAddr>,
    /// TCP port.
    #[arg(long, env = "SDGATE_PORT", default_value_t = 7860)]
    pub port: u16,
    /// HTTP Basic credentials, `user:pass[,user2:pass2]`. Covers every route (see --public-probes).
    #[arg(
        long,
        env = "SDGATE_API_AUTH",
        hide_env_values = true,
        value_name = "USER:PASS[,...]"
    )]
    pub api_auth: Option<Credentials>,
    /// Leave /health and /ready open without credentials (for Kubernetes probes) when --api-auth is set.
    #[arg(long, env = "SDGATE_PUBLIC_PROBES")]
    pub public_probes: bool,
    /// Browser origins allowed by CORS, comma-separated (`*` for any). CORS is off without it.
    #[arg(
        long,
        env = "SDGATE_CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub cors_allow_origins: Vec<String>,
    /// Serve no HTML page at / (API only).
    #[arg(long, env = "SDGATE_NOWEBUI")]
    pub nowebui: bool,
    /// Folder for outputs, the gallery index and extracted models.
    #[arg(long, env = "SDGATE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder for generated images (default: <data-dir>/outputs).
    #[arg(long, env = "SDGATE_OUTPUTS_DIR")]
    pub outputs_dir: Option<PathBuf>,
    /// Save only the images of requests that set `save_images: true` (the WebUI API's behaviour).
    /// Without it every generated image is saved to the outputs folder and shown in the gallery.
    #[arg(long, env = "SDGATE_NO_SAVE")]
    pub no_save: bool,
    /// Seconds to wait for running jobs after SIGTERM/SIGINT before stopping anyway.
    #[arg(long, env = "SDGATE_SHUTDOWN_TIMEOUT", default_value_t = 120)]
    pub shutdown_timeout: u64,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "SDGATE_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
}

/// Where models come from.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ModelArgs {
    /// A model folder (model.json + ONNX graphs), or a folder of model folders.
    #[arg(
        long = "model-dir",
        visible_alias = "ckpt",
        env = "SDGATE_MODEL_DIR",
        value_name = "DIR"
    )]
    pub model_dir: Option<PathBuf>,
    /// The seed deployment's model volume: used when --model-dir is not given.
    #[arg(long = "seed-model-dir", env = "MODEL_DIR", hide = true)]
    pub seed_model_dir: Option<PathBuf>,
    /// Inside a model directory without model.json: the sub-folder (or checkpoint) to serve.
    #[arg(long = "model-file", env = "MODEL_FILE", value_name = "NAME")]
    pub model_file: Option<String>,
    /// The model to make current at start (title, name, file name or short hash), when several are found.
    #[arg(long = "model-name", env = "MODEL_NAME", value_name = "NAME")]
    pub model_name: Option<String>,
    /// A folder whose sub-folders are model folders (all are listed in sd-models).
    #[arg(long, env = "SDGATE_CKPT_DIR", value_name = "DIR")]
    pub ckpt_dir: Option<PathBuf>,
    /// Textual-inversion embeddings.
    #[arg(long, env = "SDGATE_EMBEDDINGS_DIR", value_name = "DIR")]
    pub embeddings_dir: Option<PathBuf>,
    /// LoRA files.
    #[arg(long, env = "SDGATE_LORA_DIR", value_name = "DIR")]
    pub lora_dir: Option<PathBuf>,
}

/// The devices and ONNX Runtime.
#[derive(Debug, Clone, Args, Serialize)]
pub struct RuntimeArgs {
    /// The ONNX Runtime shared library (otherwise ORT_DYLIB_PATH, then .ort/lib).
    #[arg(long, env = "SDGATE_ORT_LIB", value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Execution provider.
    #[arg(long, env = "SDGATE_PROVIDER", value_enum, default_value_t = ProviderKind::Cpu)]
    pub provider: ProviderKind,
    /// When the provider cannot start, fall back along TensorRT → CUDA → CPU (logged) instead of failing.
    #[arg(long, env = "SDGATE_PROVIDER_FALLBACK")]
    pub provider_fallback: bool,
    /// GPUs to use: `0`, `0,1` or `all` (one worker per device).
    #[arg(long, env = "SDGATE_DEVICE_ID", default_value = "0", value_name = "IDS")]
    pub device_id: DeviceSelection,
    /// Most images one UNet call batches across requests (default 8 on a GPU, 1 on the CPU).
    #[arg(long, env = "SDGATE_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// TensorRT engine and timing caches (default: <data-dir>/trt-cache).
    #[arg(long, env = "SDGATE_TRT_CACHE_DIR", value_name = "DIR")]
    pub trt_cache_dir: Option<PathBuf>,
    /// UNet shape buckets that get a captured CUDA graph on a GPU (0 turns CUDA graphs off). The UNet
    /// always runs through IoBinding on a GPU.
    #[arg(long, env = "SDGATE_CUDA_GRAPHS", default_value_t = 16)]
    pub cuda_graphs: usize,
}

/// Admission and validation limits.
#[derive(Debug, Clone, Args, Serialize)]
pub struct LimitArgs {
    /// Jobs that may wait for a device; past it requests get 429 with Retry-After.
    #[arg(long, env = "SDGATE_QUEUE_LIMIT", default_value_t = 64)]
    pub queue_limit: usize,
    /// Largest request body in bytes (JSON with base64 images).
    #[arg(long, env = "SDGATE_MAX_BODY_BYTES", default_value_t = 50 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a synchronous /sdapi generation may take before it is interrupted (0 = no limit).
    #[arg(long, env = "SDGATE_REQUEST_TIMEOUT", default_value_t = 0)]
    pub request_timeout: u64,
    /// Largest generated width or height.
    #[arg(long, env = "SDGATE_MAX_IMAGE_SIDE", default_value_t = 2048)]
    pub max_image_side: usize,
    /// Largest generated width × height.
    #[arg(long, env = "SDGATE_MAX_IMAGE_PIXELS", default_value_t = 2048 * 2048)]
    pub max_image_pixels: usize,
    /// Most latent pixels (width/f × height/f × batch_size, f = the model's VAE factor) in one UNet
    /// pass: what activation memory grows with. Default: 16384 on the CPU (one 1024×1024 SD image),
    /// 65536 on a GPU (one 2048×2048 SD image).
    #[arg(long, env = "SDGATE_MAX_LATENT_PIXELS")]
    pub max_latent_pixels: Option<usize>,
    /// Most sampling steps per pass.
    #[arg(long, env = "SDGATE_MAX_STEPS", default_value_t = 150)]
    pub max_steps: usize,
    /// Largest batch_size of one request.
    #[arg(long, env = "SDGATE_MAX_BATCH_SIZE", default_value_t = 16)]
    pub max_batch_size: usize,
    /// Largest n_iter of one request.
    #[arg(long, env = "SDGATE_MAX_N_ITER", default_value_t = 100)]
    pub max_n_iter: usize,
    /// Most images (batch_size × n_iter) of one request.
    #[arg(long, env = "SDGATE_MAX_IMAGES", default_value_t = 100)]
    pub max_images: usize,
    /// Longest prompt (and negative prompt), in characters.
    #[arg(long, env = "SDGATE_MAX_PROMPT_CHARS", default_value_t = 20_000)]
    pub max_prompt_chars: usize,
    /// Largest width or height of an uploaded image (init images, masks, png-info).
    #[arg(long, env = "SDGATE_MAX_INPUT_IMAGE_SIDE", default_value_t = 8192)]
    pub max_input_image_side: u32,
    /// Finished jobs kept for /v1/jobs and /v1/images (the oldest are dropped first).
    #[arg(long, env = "SDGATE_JOB_RETENTION", default_value_t = 200)]
    pub job_retention: usize,
    /// Seconds a finished job is kept.
    #[arg(long, env = "SDGATE_JOB_TTL", default_value_t = 3600)]
    pub job_ttl: u64,
    /// Bytes of images the kept jobs may hold in memory (the oldest jobs are dropped first).
    #[arg(long, env = "SDGATE_JOB_RETENTION_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub job_retention_bytes: usize,
}

impl ServerArgs {
    pub fn bind_addr(&self) -> IpAddr {
        self.listen.unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }

    pub fn outputs_dir(&self) -> PathBuf {
        self.outputs_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outputs"))
    }
}

impl RuntimeArgs {
    /// The cross-request batch size: --max-batch, else 8 on a GPU and 1 on the CPU.
    pub fn effective_max_batch(&self) -> usize {
        self.max_batch
            .unwrap_or(if self.provider.is_gpu() { 8 } else { 1 })
            .max(1)
    }

    pub fn trt_cache_dir(&self, data_dir: &Path) -> PathBuf {
        self.trt_cache_dir.clone().unwrap_or_else(|| data_dir.join("trt-cache"))
    }
}

impl ModelArgs {
    /// Resolve the model sources. `--model-dir`/`--ckpt` (else the seed's `MODEL_DIR`) is a model
    /// folder when it holds model.json; otherwise `MODEL_FILE` names the model folder inside it; without
    /// `MODEL_FILE` it is scanned like --ckpt-dir.
    pub fn sources(&self) -> Result<ModelSources, ConfigError> {
        let mut sources = ModelSources {
            folders: vec![],
            ckpt_dir: self.ckpt_dir.clone(),
        };
        let Some(dir) = self.model_dir.as_ref().or(self.seed_model_dir.as_ref()) else {
            return Ok(sources);
        };
        if !dir.is_dir() {
            return Err(ConfigError::Model(format!("{} is not a folder", dir.display())));
        }
        if dir.join(ModelFolder::MANIFEST).is_file() {
            sources.folders.push(dir.clone());
            return Ok(sources);
        }
        match &self.model_file {
            Some(file) => {
                let path = dir.join(file);
                if path.join(ModelFolder::MANIFEST).is_file() {
                    sources.folders.push(path);
                } else if path.is_file() {
                    return Err(ConfigError::Model(format!(
                        "{} holds no model.json and {} is a checkpoint file: export it to an sdgate model folder \
                         first (onnx/export.py --checkpoint {} --out {})",
                        dir.display(),
                        path.display(),
                        path.display(),
                        dir.display()
                    )));
                } else {
                    return Err(ConfigError::Model(format!(
                        "MODEL_FILE {file:?}: {} is neither a model folder nor a file",
                        path.display()
                    )));
                }
            }
            None if sources.ckpt_dir.is_none() => sources.ckpt_dir = Some(dir.clone()),
            None => {
                return Err(ConfigError::Model(format!(
                    "{} holds no model.json; name the model with --model-file / MODEL_FILE",
                    dir.display()
                )));
            }
        }
        Ok(sources)
    }
}

/// Which GPUs to run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceSelection {
    All,
    Ids(Vec<i32>),
}

impl std::str::FromStr for DeviceSelection {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(DeviceSelection::All);
        }
        let ids: Result<Vec<i32>, _> = s.split(',').map(|p| p.trim().parse::<i32>()).collect();
        match ids {
            Ok(ids) if !ids.is_empty() && ids.iter().all(|&i| i >= 0) => {
                let mut unique = ids.clone();
                unique.sort_unstable();
                unique.dedup();
                if unique.len() != ids.len() {
                    return Err(ConfigError::DeviceId(s.into()));
                }
                Ok(DeviceSelection::Ids(ids))
            }
            _ => Err(ConfigError::DeviceId(s.into())),
        }
    }
}

/// `--api-auth` credentials. Never printed: Debug and Serialize redact them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials(Vec<(String, String)>);

impl Credentials {
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials(<{} redacted>)", self.0.len())
    }
}

impl Serialize for Credentials {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl std::str::FromStr for Credentials {
    type Err = ConfigError;

    /// `user:pass[,user2:pass2]`; a password may contain `:` (split at the first one).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pairs = Vec::new();
        for (i, item) in s.split(',').enumerate() {
            let item = item.trim();
            match item.split_once(':') {
                Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
                    pairs.push((user.to_string(), pass.to_string()));
                }
                _ => {
                    return Err(ConfigError::Auth(format!(
                        "entry {} is not user:password (both non-empty)",
                        i + 1
                    )));
                }
            }
        }
        Ok(Credentials(pairs))
    }
}

/// Parse the process's command line and environment, with the TOML layer.
pub fn load() -> Result<Cli, ConfigError> {
    load_from(std::env::args_os())
}

/// Parse `argv` (the first item is the program name) and the environment; then fill what neither set
/// from the TOML file named by `--config`/`SDGATE_CONFIG`.
pub fn load_from<I, T>(argv: I) -> Result<Cli, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(argv.clone())?;
    let Some((sub_name, sub_matches)) = matches.subcommand() else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let config_path = sub_matches
        .get_one::<PathBuf>("config")
        .or_else(|| matches.get_one::<PathBuf>("config"))
        .cloned();
    let Some(path) = config_path else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::ReadFile {
        path: path.clone(),
        source,
    })?;
    let extra = toml_args(&text, sub_name, sub_matches).map_err(|message| ConfigError::Toml {
        path: path.clone(),
        message,
    })?;
    if extra.is_empty() {
        return Ok(Cli::from_arg_matches(&matches)?);
    }
    let mut full = argv;
    full.extend(extra);
    Ok(Cli::try_parse_from(full)?)
}

/// Turn the TOML keys into `--flag=value` arguments for the flags that neither the command line nor
/// the environment set. Tables are flattened (a `[server]` section is only a label).
fn toml_args(text: &str, sub_name: &str, sub_matches: &ArgMatches) -> Result<Vec<OsString>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
    let mut flat = Vec::new();
    flatten(&table, &mut flat);
    let cmd = Cli::command();
    let Some(sub) = cmd.find_subcommand(sub_name) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for (key, value) in flat {
        let flag = key.replace('_', "-");
        let arg = sub.get_arguments().find(|a| {
            a.get_long() == Some(flag.as_str()) || a.get_all_aliases().is_some_and(|al| al.contains(&flag.as_str()))
        });
        let Some(arg) = arg.filter(|a| a.get_id() != "config" && a.get_id() != "help") else {
            unknown.push(key);
            continue;
        };
        let id = arg.get_id().as_str();
        if matches!(
            sub_matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let long = arg.get_long().unwrap_or(flag.as_str());
        let takes_value = arg.get_action().takes_values();
        let value_optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        match value {
            toml::Value::Boolean(b) if !takes_value || value_optional => {
                if *b {
                    out.push(OsString::from(format!("--{long}")));
                }
            }
            _ if !takes_value => return Err(format!("{key} is a switch: give true or false")),
            other => out.push(OsString::from(format!("--{long}={}", scalar(other, &key)?))),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown keys {}; keys are the flag names of `sdgate {sub_name} --help`",
            unknown.join(", ")
        ));
    }
    Ok(out)
}

fn flatten<'a>(table: &'a toml::Table, out: &mut Vec<(String, &'a toml::Value)>) {
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => flatten(t, out),
            _ => out.push((k.clone(), v)),
        }
    }
}

fn scalar(v: &toml::Value, key: &str) -> Result<String, String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| scalar(i, key))
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => return Err(format!("{key}: unsupported value type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(argv: &[&str]) -> ServeArgs {
        let mut full = vec!["sdgate", "serve"];
        full.extend_from_slice(argv);
        match load_from(full).unwrap().command {
            Command::Serve(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_webui_flags() {
        let a = serve(&[]);
        assert_eq!(a.server.port, 7860);
        assert_eq!(a.server.bind_addr(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(a.server.data_dir, PathBuf::from("data"));
        assert_eq!(a.limits.queue_limit, 64);
        assert_eq!(a.runtime.effective_max_batch(), 1);
        let a = serve(&["--listen", "--port", "9000", "--ckpt", "/m", "--provider", "cuda"]);
        assert_eq!(a.server.bind_addr(), IpAddr::from([0, 0, 0, 0]));
        assert_eq!(a.server.port, 9000);
        assert_eq!(a.models.model_dir, Some(PathBuf::from("/m")));
        assert_eq!(a.runtime.effective_max_batch(), 8);
        let a = serve(&["--listen", "10.0.0.1"]);
        assert_eq!(a.server.bind_addr(), IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn credentials_parse_and_stay_secret() {
        let c: Credentials = "alice:s3cr:et, bob:pw".parse().unwrap();
        assert_eq!(c.pairs()[0], ("alice".into(), "s3cr:et".into()));
        assert_eq!(c.pairs()[1], ("bob".into(), "pw".into()));
        assert!(!format!("{c:?}").contains("s3cr"));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"<redacted>\"");
        for bad in ["alice", ":pw", "alice:", "a:b,,c:d"] {
            assert!(bad.parse::<Credentials>().is_err(), "{bad}");
        }
        let a = serve(&["--api-auth", "u:topsecret"]);
        assert!(!format!("{a:?}").contains("topsecret"));
        assert!(!serde_json::to_string(&a).unwrap().contains("topsecret"));
    }

    #[test]
    fn device_ids() {
        assert_eq!("all".parse::<DeviceSelection>().unwrap(), DeviceSelection::All);
        assert_eq!(
            "0,1".parse::<DeviceSelection>().unwrap(),
            DeviceSelection::Ids(vec![0, 1])
        );
        for bad in ["", "x", "-1", "0,0", "1,,2"] {
            assert!(bad.parse::<DeviceSelection>().is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_fills_what_the_command_line_did_not_set() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sdgate.toml");
        std::fs::write(
            &file,
            "port = 8000\nlisten = true\nqueue_limit = 5\n[server]\ncors-allow-origins = [\"http://a\", \"http://b\"]\n\
             nowebui = true\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let a = serve(&["--config", f, "--port", "9000"]);
        assert_eq!(a.server.port, 9000, "command line wins");
        assert_eq!(a.server.bind_addr(), IpAddr::from([0, 0, 0, 0]));
        assert_eq!(a.limits.queue_limit, 5);
        assert_eq!(a.server.cors_allow_origins, vec!["http://a", "http://b"]);
        assert!(a.server.nowebui);
    }

    #[test]
    fn toml_unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "prot = 1\n").unwrap();
        let err = load_from(["sdgate", "serve", "--config", file.to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn model_sources_follow_the_seed_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("exported")).unwrap();
        std::fs::write(root.join("exported/model.json"), "{}").unwrap();
        std::fs::write(root.join("v1-5.safetensors"), "x").unwrap();
        let mut m = serve(&[]).models;
        m.seed_model_dir = Some(root.to_path_buf());
        m.model_file = Some("exported".into());
        assert_eq!(m.sources().unwrap().folders, vec![root.join("exported")]);
        m.model_file = Some("v1-5.safetensors".into());
        assert!(m.sources().unwrap_err().to_string().contains("export"));
        m.model_file = None;
        assert_eq!(m.sources().unwrap().ckpt_dir, Some(root.to_path_buf()));
        m.model_dir = Some(root.join("exported"));
        assert_eq!(m.sources().unwrap().folders, vec![root.join("exported")]);
    }
}
