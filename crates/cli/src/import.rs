use anyhow::Context;
use locrit_core::{Core, ImportOutcome};

use crate::args::ImportArgs;

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.path)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let store_config = args.store.config();
    let store = locrit_store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store {}", store_config.database_url))?;
    let report = Core::new(store).import_config(&text).await?;
    for entry in &report.locrits {
        let outcome = match entry.outcome {
            ImportOutcome::Created => "created",
            ImportOutcome::Updated => "updated",
            ImportOutcome::Skipped => "skipped",
        };
        println!("{outcome:<8} {:<28} {}", entry.name, entry.reason);
    }
    println!(
        "{} created, {} updated, {} skipped; global settings {}",
        report.count(ImportOutcome::Created),
        report.count(ImportOutcome::Updated),
        report.count(ImportOutcome::Skipped),
        if report.config_updated {
            "updated"
        } else {
            "unchanged"
        }
    );
    Ok(())
}
