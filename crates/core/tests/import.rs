//! Importing the original's config.yaml fixture.

use locrit_core::{Core, ImportOutcome};
use locrit_store::StoreConfig;
use locrit_testkit::TestDatabase;
use serde_json::json;

const FIXTURE: &str = include_str!("../../../tests/fixtures/original-config.yaml");

async fn core(db: &TestDatabase) -> Core {
    let store = locrit_store::open(&StoreConfig {
        max_connections: 4,
        ..StoreConfig::new(db.url())
    })
    .await
    .unwrap();
    Core::new(store)
}

#[tokio::test]
async fn imports_the_four_fixture_locrits_with_their_flags() {
    let db = TestDatabase::sqlite();
    let core = core(&db).await;
    let report = core.import_config(FIXTURE).await.unwrap();
    assert_eq!(report.count(ImportOutcome::Created), 4);
    assert!(report.config_updated);

    let bob = core.locrit_named("Bob Technique").await.unwrap();
    assert!(bob.active);
    assert!(
        bob.open_to.humans
            && bob.open_to.locrits
            && bob.open_to.invitations
            && bob.open_to.internet
    );
    assert!(!bob.open_to.platform);
    assert!(
        bob.access_to.logs
            && bob.access_to.quick_memory
            && bob.access_to.full_memory
            && bob.access_to.llm_info
    );
    assert_eq!(bob.ollama_url.as_deref(), Some("http://localhost:11434"));
    assert_eq!(
        bob.public_page.as_ref().and_then(|p| p.avatar.as_deref()),
        Some("🤖")
    );
    assert_eq!(
        bob.public_address.as_deref(),
        Some("https://fb73aa2142137f.lhr.life")
    );
    assert_eq!(
        bob.created_at.to_rfc3339(),
        "2025-09-13T14:29:07.098618+00:00",
        "naive time read as UTC"
    );
    assert_eq!(
        bob.updated_at.to_rfc3339(),
        "2025-10-05T14:29:55.066197+00:00"
    );
    assert_eq!(
        bob.system_prompt(),
        "Tu es Bob Technique, un Locrit. Expert en programmation et technologies"
    );

    let pixie = core.locrit_named("Pixie Assistant").await.unwrap();
    assert!(
        pixie.active
            && !pixie.open_to.internet
            && !pixie.open_to.platform
            && !pixie.access_to.full_memory
    );
    let root = core.locrit_named("Locrit root").await.unwrap();
    assert!(!root.active);
    assert_eq!(root.public_address, None, "'' is no address");
    assert!(!core.locrit_named("Marie Recherche").await.unwrap().active);

    let config = core.global_config().await.unwrap();
    assert_eq!(config.ollama.default_model, "llama3.1:8b-instruct-q3_K_M");
    assert_eq!(
        config.ollama.other["port"],
        json!(11434),
        "unused keys kept"
    );
    assert_eq!(config.network["api_server"]["port"], json!(8000));
    assert_eq!(
        config.other["central_server"]["url"],
        json!("https://central.locrit.com")
    );
    assert_eq!(
        config.locrit_defaults["access_to"]["full_memory"],
        json!(false)
    );
}

#[tokio::test]
async fn importing_twice_changes_nothing() {
    let db = TestDatabase::sqlite();
    let core = core(&db).await;
    core.import_config(FIXTURE).await.unwrap();
    let before = core.locrits().await.unwrap();
    let again = core.import_config(FIXTURE).await.unwrap();
    assert_eq!(again.count(ImportOutcome::Skipped), 4, "{again:?}");
    assert!(!again.config_updated);
    assert_eq!(core.locrits().await.unwrap(), before);
}

#[tokio::test]
async fn changed_settings_update_keep_identity_and_keep_unknown_keys() {
    let db = TestDatabase::sqlite();
    let core = core(&db).await;
    core.import_config(FIXTURE).await.unwrap();
    let id = core.locrit_named("Pixie Assistant").await.unwrap().id;
    let edited = FIXTURE
        .replace(
            "Assistant personnel intelligent et organisé",
            "Nouvelle description",
        )
        .replace(
            "    Pixie Assistant:\n",
            "    Pixie Assistant:\n      favourite_colour: blue\n",
        );
    let report = core.import_config(&edited).await.unwrap();
    let pixie_entry = report
        .locrits
        .iter()
        .find(|l| l.name == "Pixie Assistant")
        .unwrap();
    assert_eq!(pixie_entry.outcome, ImportOutcome::Updated);
    let pixie = core.locrit_named("Pixie Assistant").await.unwrap();
    assert_eq!(
        (pixie.id, pixie.description.as_str()),
        (id, "Nouvelle description")
    );
    assert_eq!(pixie.extra["favourite_colour"], json!("blue"));
}

#[tokio::test]
async fn bad_entries_are_skipped_with_a_reason_and_bad_files_refused() {
    let db = TestDatabase::sqlite();
    let core = core(&db).await;
    let yaml = "locrits:\n  instances:\n    a/b: {ollama_model: m}\n    list: {ollama_model: m}\n    ok: {open_to: {humans: yes-please}}\n    fine: {}\n";
    let report = core.import_config(yaml).await.unwrap();
    let outcome = |name: &str| {
        report
            .locrits
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .clone()
    };
    assert_eq!(outcome("a/b").outcome, ImportOutcome::Skipped);
    assert!(outcome("a/b").reason.contains("invalid name"));
    assert_eq!(outcome("list").outcome, ImportOutcome::Skipped);
    assert!(
        outcome("ok").reason.contains("open_to"),
        "{:?}",
        outcome("ok")
    );
    let fine = core.locrit_named("fine").await.unwrap();
    assert!(
        !fine.active && !fine.open_to.humans,
        "a missing flag is false"
    );
    assert!(core.import_config("- just\n- a list\n").await.is_err());
    assert!(core.import_config("locrits: [unclosed").await.is_err());
}
