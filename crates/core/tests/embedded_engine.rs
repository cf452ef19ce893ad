//! Which engine serves a Locrit: `ollama_url: "embedded"` goes to the embedded engine,
//! and new Locrits default to it when no Ollama server answers and its models are
//! present. The parts needing the real models skip (with a message) without them.

use std::path::Path;

use locrit_core::{Core, DefaultEngine, GlobalConfigChanges};
use locrit_domain::{EMBEDDED_ENGINE, NewLocrit};
use locrit_embedded::{CHAT_MODEL, MODELS};
use locrit_store::StoreConfig;
use locrit_testkit::TestDatabase;

/// A core whose default Ollama server refuses connections.
async fn core(db: &TestDatabase, models: &Path) -> Core {
    let store = locrit_store::open(&StoreConfig::new(db.url()))
        .await
        .unwrap();
    let core = Core::new(store).with_embedded_models(models.to_owned());
    core.save_global_config(GlobalConfigChanges {
        ollama_base_url: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    core
}

fn new_locrit(name: &str, url: Option<&str>) -> NewLocrit {
    NewLocrit {
        name: name.into(),
        ollama_model: "llama3.2".into(),
        ollama_url: url.map(Into::into),
        ..NewLocrit::default()
    }
}

#[tokio::test]
async fn without_its_models_the_embedded_engine_says_how_to_get_them() {
    let db = TestDatabase::sqlite();
    let empty = tempfile::tempdir().unwrap();
    let core = core(&db, empty.path()).await;
    let error = core.ollama_models(EMBEDDED_ENGINE).await.unwrap_err();
    assert!(error.to_string().contains("locrit models fetch"), "{error}");
    assert_eq!(
        core.choose_default_engine().await.unwrap(),
        DefaultEngine::Ollama {
            url: "http://127.0.0.1:9".into(),
            reachable: false
        }
    );
    let locrit = core.create_locrit(new_locrit("Ann", None)).await.unwrap();
    assert_eq!(locrit.ollama_url.as_deref(), Some("http://127.0.0.1:9"));
}

#[tokio::test]
async fn with_no_ollama_new_locrits_get_the_embedded_model() {
    let models = locrit_testkit::models_dir();
    if !MODELS.iter().all(|spec| spec.is_present(&models)) {
        eprintln!(
            "SKIPPED: no embedded models in {}; run scripts/fetch-models",
            models.display()
        );
        return;
    }
    let db = TestDatabase::sqlite();
    let core = core(&db, &models).await;
    assert_eq!(
        core.choose_default_engine().await.unwrap(),
        DefaultEngine::Embedded
    );
    let names: Vec<_> = core
        .ollama_models(EMBEDDED_ENGINE)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(names.contains(&CHAT_MODEL.name.to_owned()), "{names:?}");
    let defaulted = core.create_locrit(new_locrit("Ann", None)).await.unwrap();
    assert_eq!(defaulted.ollama_url.as_deref(), Some(EMBEDDED_ENGINE));
    assert_eq!(defaulted.ollama_model, CHAT_MODEL.name);
    // A Locrit that names its server keeps it.
    let chosen = core
        .create_locrit(new_locrit("Bea", Some("http://gpu:11434")))
        .await
        .unwrap();
    assert_eq!(chosen.ollama_url.as_deref(), Some("http://gpu:11434"));
    assert_eq!(chosen.ollama_model, "llama3.2");
}
