//! `locrit admin create`: accounts from the command line, for the first admin of a
//! server that will listen beyond this machine (it refuses to start without one).

use std::io::BufRead;

use anyhow::Context;
use locrit_core::Core;
use locrit_domain::{AccountRole, Requester};

use crate::args::{AdminCommand, AdminCreateArgs};

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create(args) => create(args).await,
    }
}

async fn create(args: AdminCreateArgs) -> anyhow::Result<()> {
    let password = match std::env::var("LOCRIT_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            eprintln!("Password for {} (one line):", args.username);
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let store_config = args.store.config();
    let store = locrit_store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store {}", store_config.database_url))?;
    let core = Core::new(store);
    let account = if args.user {
        core.create_account(
            &Requester::Local,
            &args.username,
            &password,
            AccountRole::User,
        )
        .await?
    } else if core.setup_needed().await? {
        core.create_first_admin(&args.username, &password).await?
    } else {
        core.create_account(
            &Requester::Local,
            &args.username,
            &password,
            AccountRole::Admin,
        )
        .await?
    };
    println!("created {} {}", account.role.as_str(), account.username);
    Ok(())
}
