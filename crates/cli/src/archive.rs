use anyhow::Context;
use locrit_core::{Core, ImportOptions};

use crate::args::{ArchiveImportArgs, BackupArgs, ExportArgs, StoreArgs};

async fn core(store: &StoreArgs) -> anyhow::Result<Core> {
    let config = store.config();
    let store = locrit_store::open(&config)
        .await
        .with_context(|| format!("cannot open the store {}", config.database_url))?;
    Ok(Core::new(store))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let core = core(&args.store).await?;
    let locrit = core.locrit_named(&args.name).await?;
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.output)
        .await
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let counts = match core.export_locrit(&locrit, file).await {
        Ok(counts) => counts,
        Err(error) => {
            // No half archive left behind to be mistaken for a whole one.
            let _ = tokio::fs::remove_file(&args.output).await;
            return Err(error.into());
        }
    };
    println!(
        "{}: {} sessions, {} messages, {} memories, {} concepts, {} relations → {}",
        locrit.name,
        counts.sessions,
        counts.messages,
        counts.memories,
        counts.concepts,
        counts.relations,
        args.output.display()
    );
    Ok(())
}

pub async fn import(args: ArchiveImportArgs) -> anyhow::Result<()> {
    let core = core(&args.store).await?;
    let file = tokio::fs::File::open(&args.path)
        .await
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let options = ImportOptions {
        name: args.name,
        owner_id: None,
    };
    let (locrit, counts) = core
        .import_archive(tokio::io::BufReader::new(file), options)
        .await?;
    println!(
        "{}: {} sessions, {} messages, {} memories, {} concepts, {} relations imported",
        locrit.name,
        counts.sessions,
        counts.messages,
        counts.memories,
        counts.concepts,
        counts.relations
    );
    Ok(())
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    locrit_store::backup(&args.store.config(), &args.output).await?;
    println!("snapshot written to {}", args.output.display());
    Ok(())
}
