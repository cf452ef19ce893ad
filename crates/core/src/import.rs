//! Importing the original Locrit's `config.yaml`: every Locrit of `locrits.instances`,
//! and the global sections. Importing the same file twice changes nothing.

use locrit_domain::{
    AccessTo, DEFAULT_PERSONA, Locrit, MemoryService, OpenTo, PublicPage, now, parse_timestamp,
    validate_locrit_name,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use locrit_store::Import;

use crate::locrits::name_conflict;
use crate::{Core, Error, GlobalConfig, Result};

/// What happened to one entry of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Created,
    Updated,
    /// Left as it was: already identical, or not importable (the reason says which).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedLocrit {
    pub name: String,
    pub outcome: ImportOutcome,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub locrits: Vec<ImportedLocrit>,
    /// Whether the global sections (Ollama server, network, UI…) changed.
    pub config_updated: bool,
}

impl ImportReport {
    pub fn count(&self, outcome: ImportOutcome) -> usize {
        self.locrits.iter().filter(|l| l.outcome == outcome).count()
    }
}

/// The settings of an instance this version reads; the rest is kept in `extra`.
const KNOWN_KEYS: [&str; 12] = [
    "description",
    "persona",
    "ollama_model",
    "ollama_url",
    "open_to",
    "access_to",
    "memory_service",
    "public_page",
    "public_address",
    "active",
    "created_at",
    "updated_at",
];

impl Core {
    /// Imports an original `config.yaml` given as text.
    pub async fn import_config(&self, yaml: &str) -> Result<ImportReport> {
        let document: Value = serde_yaml_ng::from_str(yaml).map_err(|e| {
            locrit_domain::ValidationError::new("config", format!("not a valid config.yaml: {e}"))
        })?;
        let Value::Object(mut sections) = document else {
            return Err(
                locrit_domain::ValidationError::new("config", "must be a YAML mapping").into(),
            );
        };
        let locrits_section = sections.remove("locrits").unwrap_or(Value::Null);
        let global = self
            .imported_global(sections, locrits_section.get("default_settings"))
            .await?;
        // One transaction: a crash or an error midway leaves the store as it was.
        let mut import = self.store.begin_import().await?;
        if let Some(config) = &global {
            config.write_into(import.as_mut()).await?;
        }

        let instances = match locrits_section.get("instances") {
            Some(Value::Object(instances)) => instances.clone(),
            _ => Map::new(),
        };
        let mut report = ImportReport {
            locrits: Vec::new(),
            config_updated: global.is_some(),
        };
        for (name, settings) in instances {
            let entry = self.import_locrit(import.as_mut(), &name, settings).await?;
            report.locrits.push(entry);
        }
        import.commit().await?;
        if let Some(config) = &global {
            self.cache_global_config(config);
        }
        for entry in &report.locrits {
            tracing::info!(locrit = %entry.name, outcome = ?entry.outcome, reason = %entry.reason, "import");
        }
        Ok(report)
    }

    async fn import_locrit(
        &self,
        import: &mut dyn Import,
        name: &str,
        settings: Value,
    ) -> Result<ImportedLocrit> {
        let entry = |outcome, reason: String| ImportedLocrit {
            name: name.to_owned(),
            outcome,
            reason,
        };
        let name = match validate_locrit_name(name) {
            Ok(valid) if valid == name => valid,
            Ok(_) => {
                return Ok(entry(
                    ImportOutcome::Skipped,
                    "name has surrounding spaces".into(),
                ));
            }
            Err(e) => {
                return Ok(entry(
                    ImportOutcome::Skipped,
                    format!("invalid name: {}", e.message),
                ));
            }
        };
        let Value::Object(settings) = settings else {
            return Ok(entry(
                ImportOutcome::Skipped,
                "settings are not a mapping".into(),
            ));
        };
        let imported = match locrit_from_settings(&name, settings) {
            Ok(locrit) => locrit,
            Err(reason) => return Ok(entry(ImportOutcome::Skipped, reason)),
        };
        match self.store.locrit_by_name(&name).await? {
            None => {
                import
                    .insert_locrit(&imported)
                    .await
                    .map_err(|e| name_conflict(e, &name))?;
                Ok(entry(ImportOutcome::Created, "new Locrit".into()))
            }
            Some(existing) if same_settings(&existing, &imported) => {
                Ok(entry(ImportOutcome::Skipped, "already up to date".into()))
            }
            Some(existing) => {
                let updated = Locrit {
                    id: existing.id,
                    owner_id: existing.owner_id,
                    ..imported
                };
                if !import.update_locrit(&updated).await? {
                    return Err(Error::NotFound("Locrit"));
                }
                Ok(entry(
                    ImportOutcome::Updated,
                    "settings differed from the file".into(),
                ))
            }
        }
    }

    /// The configuration with the sections other than `locrits` replacing what an
    /// earlier import stored; `None` when that changes nothing.
    async fn imported_global(
        &self,
        mut sections: Map<String, Value>,
        locrit_defaults: Option<&Value>,
    ) -> Result<Option<GlobalConfig>> {
        let current = self.global_config().await?;
        let mut config = GlobalConfig {
            other: Map::new(),
            ..current.clone()
        };
        if let Some(Value::Object(mut ollama)) = sections.remove("ollama") {
            if let Some(url) = ollama
                .remove("base_url")
                .as_ref()
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
            {
                config.ollama.base_url = url.trim_end_matches('/').to_owned();
            }
            if let Some(Value::String(model)) = ollama.remove("default_model") {
                config.ollama.default_model = model;
            }
            if let Some(Value::String(model)) = ollama.remove("embedding_model") {
                config.ollama.embedding_model = model;
            }
            if let Some(timeout) = ollama.remove("timeout").as_ref().and_then(Value::as_u64) {
                config.ollama.timeout = timeout;
            }
            config.ollama.other = ollama;
        }
        for (key, slot) in [
            ("network", &mut config.network),
            ("memory", &mut config.memory),
            ("ui", &mut config.ui),
        ] {
            if let Some(section) = sections.remove(key) {
                *slot = section;
            }
        }
        if let Some(defaults) = locrit_defaults {
            config.locrit_defaults = defaults.clone();
        }
        config.other = sections;
        Ok((config != current).then_some(config))
    }
}

/// Builds a Locrit from one `instances` entry with the original's rules: a missing flag
/// is false, a missing `memory_service` is `plaintext_file`, unknown keys are kept.
fn locrit_from_settings(name: &str, mut settings: Map<String, Value>) -> Result<Locrit, String> {
    let text = |settings: &Map<String, Value>, key: &str| -> Option<String> {
        settings
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let created_at = text(&settings, "created_at").and_then(|t| parse_timestamp(&t));
    let updated_at = text(&settings, "updated_at").and_then(|t| parse_timestamp(&t));
    let created_at = created_at.or(updated_at).unwrap_or_else(now);
    let locrit = Locrit {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        description: text(&settings, "description").unwrap_or_default(),
        persona: text(&settings, "persona").unwrap_or_else(|| DEFAULT_PERSONA.to_owned()),
        ollama_model: text(&settings, "ollama_model").unwrap_or_default(),
        ollama_url: text(&settings, "ollama_url").map(|u| u.trim_end_matches('/').to_owned()),
        open_to: field::<OpenTo>(&settings, "open_to")?.unwrap_or_default(),
        access_to: field::<AccessTo>(&settings, "access_to")?.unwrap_or_default(),
        memory_service: field::<MemoryService>(&settings, "memory_service")?.unwrap_or_default(),
        public_page: field::<PublicPage>(&settings, "public_page")?,
        public_address: text(&settings, "public_address"),
        active: settings
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        owner_id: None,
        extra: Map::new(),
        created_at,
        updated_at: updated_at.unwrap_or(created_at),
    };
    settings.retain(|key, _| !KNOWN_KEYS.contains(&key.as_str()));
    Ok(Locrit {
        extra: settings,
        ..locrit
    })
}

fn field<T: DeserializeOwned>(
    settings: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, String> {
    match settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| format!("invalid {key}: {e}")),
    }
}

/// Whether two Locrits hold the same settings, ignoring identity and timestamps.
fn same_settings(a: &Locrit, b: &Locrit) -> bool {
    let strip = |l: &Locrit| Locrit {
        id: Uuid::nil(),
        owner_id: None,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
        ..l.clone()
    };
    strip(a) == strip(b)
}
