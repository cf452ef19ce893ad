use std::collections::BTreeSet;

use anyhow::Context;
use locrit_core::{Core, DefaultEngine, GlobalConfigChanges, JobSettings};
use locrit_domain::EMBEDDED_ENGINE;
use locrit_server::{PublicLimits, RateLimit, ServerConfig, app, serve};
use tokio::net::TcpListener;

use crate::args::{ServeArgs, models_dir};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store_config = args.store.config();
    let store = locrit_store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store {}", store_config.database_url))?;
    tracing::info!(store = %store.describe(), "store ready, migrations applied");
    let models = models_dir(&args.store.data_dir, args.models_dir.as_ref());
    let core = Core::new(store)
        .with_embedded_models(models.clone())
        .with_search_index_dir(args.store.data_dir.join("search-index"));
    if let Some(url) = args.ollama_url {
        core.save_global_config(GlobalConfigChanges {
            ollama_base_url: Some(url),
            ..Default::default()
        })
        .await?;
    }
    log_ollama_servers(&core).await?;
    let address = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    let loopback_only = local.ip().is_loopback();
    if !loopback_only && core.setup_needed().await? {
        anyhow::bail!(
            "listening on {local} exposes Locrit beyond this machine, which needs accounts: \
             create the first admin with `locrit admin create --username <name>`, then start again"
        );
    }
    if !args.no_model_fetch {
        fetch_models_if_no_ollama(&core, &models, &args.models_index).await?;
    }
    match core.choose_default_engine().await? {
        DefaultEngine::Embedded => tracing::info!(
            models = %models.display(),
            "no Ollama server answers: new Locrits use the embedded model {} (ollama_url \"{EMBEDDED_ENGINE}\")",
            locrit_embedded::CHAT_MODEL.name
        ),
        DefaultEngine::Ollama {
            url,
            reachable: false,
        } => tracing::warn!(
            "the Ollama server {url} does not answer and the embedded models are absent \
             (`locrit models fetch` gets them): chats will fail until one is available"
        ),
        DefaultEngine::Ollama { .. } => {}
    }

    let config = ServerConfig {
        body_limit: args.body_limit,
        cors_origins: args.cors_origins,
        local_trust: loopback_only && !args.no_local_trust,
        public_limits: PublicLimits {
            per_visitor: RateLimit::per_minute(args.public_visitor_per_minute),
            per_locrit: RateLimit::per_minute(args.public_locrit_per_minute),
        },
        ..ServerConfig::default()
    };
    tracing::info!(
        "Locrit listening on http://{local} (web API /api/v2, OpenAPI /api/v2/openapi.json)"
    );
    if config.local_trust {
        tracing::info!(
            "local trust: requests from this machine act as an admin (--no-local-trust to require sign-in)"
        );
    } else {
        tracing::info!("every request needs a sign-in or an API key (no local trust)");
    }
    let defaults = JobSettings::default();
    let background = core.start_background(JobSettings {
        lease: args
            .job_lease
            .map_or(defaults.lease, std::time::Duration::from_secs),
        ..defaults
    });
    let (app, sockets) = app(core.clone(), &config);
    let shutdown = async move {
        shutdown_signal().await;
        // Long-polling clients would otherwise hold the shutdown until their next ping.
        sockets.close().await;
    };
    serve(listener, app, shutdown).await?;
    background.stop().await;
    core.save_search_indexes().await;
    tracing::info!("Locrit stopped");
    Ok(())
}

/// Says which Ollama servers this server will call: the default, and each Locrit's own.
async fn log_ollama_servers(core: &Core) -> anyhow::Result<()> {
    let default = core.global_config().await?.ollama.base_url;
    let own: BTreeSet<String> = core
        .locrits()
        .await?
        .into_iter()
        .filter_map(|l| l.ollama_url)
        .filter(|url| *url != default)
        .collect();
    tracing::info!(default = %default, others = ?own, "Ollama servers");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// With no Ollama server answering, a fresh install would have no model at all: the
/// embedded ones are downloaded (pinned, verified) so that the first chat works. A failed
/// download is a warning: the server still starts, and says how to get them.
async fn fetch_models_if_no_ollama(
    core: &Core,
    models: &std::path::Path,
    index: &str,
) -> anyhow::Result<()> {
    if locrit_embedded::MODELS
        .iter()
        .all(|spec| spec.is_present(models))
    {
        return Ok(());
    }
    let url = core.global_config().await?.ollama_url();
    if core.ollama_models(&url).await.is_ok() {
        return Ok(());
    }
    tracing::info!(
        models = %models.display(),
        "no Ollama server answers at {url}: downloading the embedded models (about 200 MB, once)"
    );
    if let Err(error) = crate::models::fetch_models(models, index).await {
        tracing::warn!(
            "the embedded models could not be downloaded ({error:#}); \
             `locrit models fetch` gets them, `--no-model-fetch` skips this"
        );
    }
    Ok(())
}
