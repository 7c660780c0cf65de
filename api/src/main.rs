//! `gemba`: see `gemba --help`.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("GEMBA_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .with_writer(std::io::stderr)
        .init();
    match gemba_api::cli::run(gemba_api::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("gemba: {error:#}");
            ExitCode::from(2)
        }
    }
}
