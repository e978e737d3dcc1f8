//! Configuration: one clap `Args` tree, every flag with an environment variable.
//! Flag names follow the WebUI's where they mean the same thing.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sdgate",
    version,
    about = "Stable Diffusion on ONNX Runtime, WebUI-compatible API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server.
    Serve(ServeArgs),
    /// Print the OpenAPI document (JSON) to standard output.
    Openapi,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Listen on all interfaces (0.0.0.0) instead of 127.0.0.1, or on the address given.
    #[arg(long, env = "SDGATE_LISTEN", num_args = 0..=1, default_missing_value = "0.0.0.0")]
    pub listen: Option<IpAddr>,
    /// TCP port.
    #[arg(long, env = "SDGATE_PORT", default_value_t = 7860)]
    pub port: u16,
    /// Folder for outputs, the gallery index and extracted models.
    #[arg(long, env = "SDGATE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A model folder (model.json + ONNX graphs). Without one, the embedded tiny model is served.
    #[arg(long = "model-dir", visible_alias = "ckpt", env = "SDGATE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// The ONNX Runtime shared library (otherwise ORT_DYLIB_PATH, then .ort/lib).
    #[arg(long, env = "SDGATE_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// Execution provider: cpu, cuda or tensorrt.
    #[arg(long, env = "SDGATE_PROVIDER", default_value = "cpu")]
    pub provider: String,
}

impl ServerArgs {
    pub fn bind_addr(&self) -> IpAddr {
        self.listen.unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }
}
