//! `locrit`: run the server, import an original Locrit's `config.yaml`, take a Locrit
//! away and bring it back, back up the store, fetch the embedded models, create
//! accounts, check the store, print the API description, measure performance.

mod admin;
mod archive;
mod args;
mod bench;
mod doctor;
mod import;
mod models;
mod serve;

use clap::Parser;

use args::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::ImportConfig(args) => import::run(args).await,
        Command::Export(args) => archive::export(args).await,
        Command::Import(args) => archive::import(args).await,
        Command::Backup(args) => archive::backup(args).await,
        Command::Models(command) => models::run(command).await,
        Command::Admin(command) => admin::run(command).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Openapi => {
            let document = <locrit_server::api::ApiDoc as utoipa::OpenApi>::openapi();
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
    }
}
