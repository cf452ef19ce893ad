//! Runs the official OpenAI and Ollama Python SDKs (`clients.py`) against a test server:
//! one command in, one JSON result out.
//!
//! The Python comes from `LOCRIT_TEST_PYTHON`, else `target/py-venv/bin/python`; both
//! are made by `./scripts/py-venv` (which `./scripts/test` runs). Without it the tests
//! fail, saying so: they never pass without the real clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("LOCRIT_TEST_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the openai and ollama packages: run ./scripts/test, or \
         `export LOCRIT_TEST_PYTHON=\"$(./scripts/py-venv)\"` before cargo test"
    );
    venv
}

pub const BOB: &str = "Bob Technique";
pub const ELODIE: &str = "Élodie l'Organisatrice";

/// A server with two active Locrits (one with a name only Unicode spells) and an
/// inactive one, `Dormant`.
pub async fn setup() -> crate::common::TestServer {
    let server = crate::common::TestServer::start().await;
    create_locrit(&server, BOB, true).await;
    create_locrit(&server, ELODIE, true).await;
    create_locrit(&server, "Dormant", false).await;
    server
}

/// A server that trusts no one (as beyond loopback), with the active Locrit [`BOB`]
/// owned by an account, and three API keys of that account: (read only, chat, none
/// valid: a made-up one).
pub async fn setup_with_keys() -> (crate::common::TestServer, [String; 3]) {
    use locrit_core::NewApiKey;
    use locrit_domain::{AccountRole, KeyScopes, NewLocrit, Requester};
    let config = locrit_server::ServerConfig {
        local_trust: false,
        ..Default::default()
    };
    let server =
        crate::common::TestServer::start_with(locrit_testkit::TestDatabase::sqlite(), config).await;
    let core = &server.core;
    let account = core
        .create_account(
            &Requester::Local,
            "ada",
            "a long enough password",
            AccountRole::User,
        )
        .await
        .unwrap();
    let owner = Requester::Account {
        account: account.clone(),
        key: None,
    };
    let new = NewLocrit {
        name: BOB.into(),
        ollama_model: "llama3.2".into(),
        active: true,
        ..NewLocrit::default()
    };
    core.create_locrit_for(new, &owner).await.unwrap();
    let key = async |scopes| {
        let new = NewApiKey {
            name: "sdk".into(),
            scopes,
            locrit: None,
        };
        core.create_api_key(&account, new).await.unwrap().1
    };
    let reader = key(KeyScopes {
        read: true,
        ..KeyScopes::default()
    })
    .await;
    let chatter = key(KeyScopes {
        read: true,
        chat: true,
        ..KeyScopes::default()
    })
    .await;
    (server, [reader, chatter, "lk_made_up".into()])
}

/// Runs a multi-turn conversation through one SDK (`protocol`: `openai` or `ollama`);
/// returns its turns.
pub async fn conversation(
    server: &crate::common::TestServer,
    protocol: &str,
    mut command: Value,
) -> Vec<Value> {
    command["op"] = format!("{protocol}.conversation").into();
    let result = run(&server.base, command).await;
    result["turns"]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
        .clone()
}

/// Runs `command` (with `base`, the server's address, added) and returns its result.
pub async fn run(base: &str, mut command: Value) -> Value {
    command["base"] = base.into();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/chat_clients/clients.py");
    let python = python();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(&python)
            .arg(&script)
            .arg(command.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client finishes")
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{command}: no JSON result ({}); stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A Locrit on the test server's fake Ollama.
pub async fn create_locrit(server: &crate::common::TestServer, name: &str, active: bool) {
    server
        .core
        .create_locrit(locrit_domain::NewLocrit {
            name: name.into(),
            description: "Expert".into(),
            ollama_model: "llama3.2".into(),
            ollama_url: Some(server.ollama.url()),
            active,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Every session of the Locrit, oldest first, as (key, [(role, content)]).
pub async fn transcripts(
    server: &crate::common::TestServer,
    name: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    let core = &server.core;
    let locrit = core.locrit_named(name).await.unwrap();
    let query = locrit_store::SessionQuery {
        locrit_id: Some(locrit.id),
        ..Default::default()
    };
    let mut sessions = core.sessions(&query).await.unwrap();
    sessions.sort_by_key(|s| s.created_at);
    let mut all = Vec::new();
    for session in sessions {
        let page = locrit_store::MessagePage::After {
            after: 0,
            limit: 1000,
        };
        let messages = core.messages(&session, page).await.unwrap();
        let messages = messages
            .into_iter()
            .map(|m| (m.role.as_str().to_owned(), m.content))
            .collect();
        all.push((session.key, messages));
    }
    all
}

/// The transcript of a conversation where the fake model echoes each message.
pub fn echoed(texts: &[&str]) -> Vec<(String, String)> {
    texts
        .iter()
        .flat_map(|t| {
            [
                ("user".to_owned(), (*t).to_owned()),
                ("assistant".to_owned(), format!("You said: {t}")),
            ]
        })
        .collect()
}
