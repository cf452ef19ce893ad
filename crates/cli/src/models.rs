//! `locrit models fetch|list`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use locrit_core::Core;
use locrit_domain::EMBEDDED_ENGINE;
use locrit_embedded::fetch::{Fetched, fetch};
use locrit_embedded::{MODELS, ModelSpec};

use crate::args::{ModelsCommand, ModelsFetchArgs, ModelsListArgs, models_dir};

pub async fn run(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Fetch(args) => fetch_all(args).await,
        ModelsCommand::List(args) => list(args).await,
    }
}

async fn fetch_all(args: ModelsFetchArgs) -> anyhow::Result<()> {
    let dir = args.models.dir();
    for (spec, outcome) in fetch_models(&dir, &args.index).await? {
        let what = match outcome {
            Fetched::AlreadyPresent => "already present",
            Fetched::Downloaded => "downloaded and verified",
        };
        println!(
            "{:20} {what} in {}",
            spec.name,
            spec.folder_in(&dir).display()
        );
    }
    println!(
        "A Locrit uses them with ollama_url \"{EMBEDDED_ENGINE}\" and ollama_model \"{}\".",
        locrit_embedded::CHAT_MODEL.name
    );
    Ok(())
}

/// Makes sure every embedded model is in `dir`, downloading from `index` what is not.
pub async fn fetch_models(dir: &Path, index: &str) -> anyhow::Result<Vec<(ModelSpec, Fetched)>> {
    let mut fetched = Vec::new();
    for spec in MODELS {
        let outcome = fetch(&spec, dir, index)
            .await
            .with_context(|| format!("cannot fetch {}", spec.name))?;
        fetched.push((spec, outcome));
    }
    Ok(fetched)
}

async fn list(args: ModelsListArgs) -> anyhow::Result<()> {
    let dir = models_dir(&args.store.data_dir, args.models_dir.as_ref());
    println!(
        "embedded engine ({EMBEDDED_ENGINE}), models in {}:",
        dir.display()
    );
    for spec in MODELS {
        let state = if spec.is_present(&dir) {
            "present"
        } else {
            "absent: locrit models fetch"
        };
        println!("  {:20} {:?}, {state}", spec.name, spec.kind);
    }
    let store_config = args.store.config();
    let store = locrit_store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store {}", store_config.database_url))?;
    let core = Core::new(store);
    let mut servers = BTreeSet::from([core.global_config().await?.ollama.base_url]);
    servers.extend(
        core.locrits()
            .await?
            .into_iter()
            .filter_map(|l| l.ollama_url),
    );
    servers.remove(EMBEDDED_ENGINE);
    for url in servers {
        match core.ollama_models(&url).await {
            Ok(models) => {
                println!("Ollama {url}:");
                for model in models {
                    println!("  {}", model.name);
                }
            }
            Err(error) => println!("Ollama {url}: unavailable ({error})"),
        }
    }
    Ok(())
}
