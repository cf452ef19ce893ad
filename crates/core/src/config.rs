//! The server-wide configuration the original kept in `config.yaml`: the default Ollama
//! server and model, and the sections its clients read back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use locrit_store::Import;

use crate::{Core, Result};

const CONFIG_KEY: &str = "config";
pub const DEFAULT_OLLAMA_URL: &str = "http://localhost:11434";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OllamaSettings {
    pub base_url: String,
    pub default_model: String,
    pub timeout: u64,
    /// The model asked for embeddings (semantic search), on each Locrit's server.
    #[serde(default = "default_embedding_model")]
    pub embedding_model: String,
    /// The rest of the original's `ollama` section (`host`, `port`), kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `LOCRIT_EMBEDDING_MODEL`, or Ollama's usual embedding model.
fn default_embedding_model() -> String {
    std::env::var("LOCRIT_EMBEDDING_MODEL").unwrap_or_else(|_| "nomic-embed-text".into())
}

/// The global configuration. Sections Locrit does not use are kept verbatim, so an
/// imported `config.yaml` can be given back whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalConfig {
    pub ollama: OllamaSettings,
    pub network: Value,
    pub memory: Value,
    pub ui: Value,
    /// The original's `locrits.default_settings`: echoed to its clients, never applied
    /// to existing Locrits.
    #[serde(default)]
    pub locrit_defaults: Value,
    /// Every other top-level section of an imported file.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            ollama: OllamaSettings {
                base_url: DEFAULT_OLLAMA_URL.into(),
                default_model: std::env::var("OLLAMA_DEFAULT_MODEL")
                    .unwrap_or_else(|_| "llama3.2".into()),
                timeout: 30,
                embedding_model: default_embedding_model(),
                other: Map::new(),
            },
            network: json!({"api_server": {"host": "127.0.0.1", "port": 5000}}),
            memory: json!({}),
            ui: json!({"theme": "dark", "refresh_interval": 5}),
            locrit_defaults: json!({
                "open_to": {"humans": true, "locrits": true, "invitations": true, "internet": false, "platform": false},
                "access_to": {"logs": true, "quick_memory": true, "full_memory": false, "llm_info": true},
                "memory_service": "plaintext_file"
            }),
            other: Map::new(),
        }
    }
}

/// The settings `/api/config/save` may change; absent ones stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GlobalConfigChanges {
    pub ollama_base_url: Option<String>,
    pub ollama_default_model: Option<String>,
    pub ollama_timeout: Option<u64>,
    pub ollama_embedding_model: Option<String>,
    pub api_port: Option<u16>,
    pub api_host: Option<String>,
    pub ui_theme: Option<String>,
    pub refresh_interval: Option<u64>,
}

impl GlobalConfig {
    fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("configuration serialises")
    }

    /// Writes it as part of an import; cache it once the import commits.
    pub(crate) async fn write_into(&self, import: &mut dyn Import) -> Result<()> {
        Ok(import.put_setting(CONFIG_KEY, &self.to_value()).await?)
    }

    /// The global Ollama server: the stored URL, never empty.
    pub fn ollama_url(&self) -> String {
        let url = self.ollama.base_url.trim().trim_end_matches('/');
        if url.is_empty() {
            DEFAULT_OLLAMA_URL.to_owned()
        } else {
            url.to_owned()
        }
    }

    fn apply(&mut self, changes: GlobalConfigChanges) {
        if let Some(url) = changes.ollama_base_url {
            self.ollama.base_url = url.trim().trim_end_matches('/').to_owned();
        }
        if let Some(model) = changes.ollama_default_model {
            self.ollama.default_model = model;
        }
        if let Some(model) = changes.ollama_embedding_model {
            self.ollama.embedding_model = model;
        }
        if let Some(timeout) = changes.ollama_timeout {
            self.ollama.timeout = timeout;
        }
        if let Some(port) = changes.api_port {
            set_path(&mut self.network, &["api_server", "port"], json!(port));
        }
        if let Some(host) = changes.api_host {
            set_path(&mut self.network, &["api_server", "host"], json!(host));
        }
        if let Some(theme) = changes.ui_theme {
            set_path(&mut self.ui, &["theme"], json!(theme));
        }
        if let Some(interval) = changes.refresh_interval {
            set_path(&mut self.ui, &["refresh_interval"], json!(interval));
        }
    }
}

/// Sets `path` inside a JSON section, making objects on the way.
fn set_path(section: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = section;
    for key in parents {
        node = as_object(node).entry(*key).or_insert_with(|| json!({}));
    }
    as_object(node).insert((*last).to_owned(), value);
}

fn as_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// How long the configuration read from the store is reused: every turn needs it,
/// and a change saved by another server shows within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// The configuration last read or written, and when.
pub(crate) type ConfigCache = Mutex<Option<(GlobalConfig, Instant)>>;

impl Core {
    /// The stored configuration, or the defaults where nothing was stored.
    pub async fn global_config(&self) -> Result<GlobalConfig> {
        let cached = self.config_cache.lock().expect("config cache").clone();
        if let Some((config, _)) = cached.filter(|(_, at)| at.elapsed() < CACHE_TTL) {
            return Ok(config);
        }
        let config = self.read_global_config().await?;
        *self.config_cache.lock().expect("config cache") = Some((config.clone(), Instant::now()));
        Ok(config)
    }

    async fn read_global_config(&self) -> Result<GlobalConfig> {
        let stored = self.store.setting(CONFIG_KEY).await?;
        Ok(stored
            .and_then(|value| match serde_json::from_value(value) {
                Ok(config) => Some(config),
                Err(error) => {
                    tracing::warn!(%error, "stored configuration unreadable; using defaults");
                    None
                }
            })
            .unwrap_or_default())
    }

    pub async fn save_global_config(&self, changes: GlobalConfigChanges) -> Result<GlobalConfig> {
        let mut config = self.global_config().await?;
        config.apply(changes);
        self.put_global_config(&config).await?;
        Ok(config)
    }

    async fn put_global_config(&self, config: &GlobalConfig) -> Result<()> {
        self.store
            .put_setting(CONFIG_KEY, &config.to_value())
            .await?;
        self.cache_global_config(config);
        Ok(())
    }

    pub(crate) fn cache_global_config(&self, config: &GlobalConfig) {
        *self.config_cache.lock().expect("config cache") = Some((config.clone(), Instant::now()));
    }
}
