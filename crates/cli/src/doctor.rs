//! `locrit doctor`: the store's checks, one line each, and an exit status scripts can
//! use (1 while a fault remains).

use anyhow::Context;
use locrit_core::Core;

use crate::args::DoctorArgs;

pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let config = args.store.config();
    let store = locrit_store::open(&config)
        .await
        .with_context(|| format!("cannot open the store {}", config.database_url))?;
    let findings = Core::new(store).doctor(args.repair).await?;
    let mut faults = 0;
    for finding in &findings {
        let state = match (finding.count, finding.repaired, finding.fault) {
            (0, _, _) => "ok".to_owned(),
            (n, true, _) => format!("{n} found, repaired"),
            (n, false, true) => {
                faults += 1;
                format!("{n} found")
            }
            (n, false, false) => format!("{n} (for information)"),
        };
        println!("{:<22} {state:<24} {}", finding.check, finding.about);
    }
    if faults > 0 {
        let hint = if args.repair { "" } else { " (try --repair)" };
        anyhow::bail!("{faults} check(s) found faults{hint}");
    }
    println!("no fault found");
    Ok(())
}
