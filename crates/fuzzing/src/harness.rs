//! One server per process, shared by every input: a Core on a fresh SQLite file, the
//! fake Ollama as its model server, a Locrit named Bob to aim at, and the router.

use std::sync::OnceLock;

use axum::Router;
use locrit_core::{Core, GlobalConfigChanges};
use locrit_domain::{Locrit, NewLocrit};
use locrit_server::{ServerConfig, router};
use locrit_store::{SqliteSync, StoreConfig};
use locrit_testkit::{FakeOllama, TestDatabase};
use tokio::runtime::Runtime;

pub(crate) struct Harness {
    runtime: Runtime,
    pub core: Core,
    pub app: Router,
    pub bob: Locrit,
    _db: TestDatabase,
    _ollama: FakeOllama,
}

pub(crate) fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::start)
}

impl Harness {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let db = TestDatabase::sqlite();
        let (core, bob, ollama) = runtime.block_on(async {
            // Durability is not under test here: no fsync per commit keeps inputs fast.
            let config = StoreConfig {
                sqlite_sync: SqliteSync::Normal,
                ..StoreConfig::new(db.url())
            };
            let core = Core::new(locrit_store::open(&config).await.expect("open the store"));
            let ollama = FakeOllama::start().await;
            core.save_global_config(GlobalConfigChanges {
                ollama_base_url: Some(ollama.url()),
                ..Default::default()
            })
            .await
            .expect("point the server at the fake Ollama");
            let bob = core
                .create_locrit(NewLocrit {
                    name: "Bob".into(),
                    ollama_model: locrit_testkit::DEFAULT_MODEL.into(),
                    active: true,
                    ..Default::default()
                })
                .await
                .expect("create Bob");
            (core, bob, ollama)
        });
        let app = runtime.block_on(async { router(core.clone(), &ServerConfig::default()) });
        Self {
            runtime,
            core,
            app,
            bob,
            _db: db,
            _ollama: ollama,
        }
    }

    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
