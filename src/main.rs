use anyhow::Context;
use clap::Parser;
use sdgate::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let lib = sdgate::runtime::library::load(args.runtime.ort_lib.as_deref())?;
            tracing::info!("ONNX Runtime loaded from {}", lib.display());
            if let Some(dir) = &args.models.model_dir {
                let folder = sdgate::models::ModelFolder::open(dir)?;
                tracing::info!("model {} from {}", folder.manifest.name, dir.display());
            }
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            rt.block_on(sdgate::api::serve(&args.server))?;
        }
        Command::Openapi => {
            println!("{{}}");
        }
    }
    Ok(())
}
