use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{ValidationError, now};

/// The original's persona line. `{name}` and `{description}` are filled in per turn, so a
/// rename or a new description takes effect at once.
/// The `ollama_url` of a Locrit served by the embedded engine (models run in
/// process, no Ollama server).
pub const EMBEDDED_ENGINE: &str = "embedded";

pub const DEFAULT_PERSONA: &str = "Tu es {name}, un Locrit. {description}";

const MAX_NAME_CHARS: usize = 128;

/// Who may talk to a Locrit. A missing flag reads as false, as in the original.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct OpenTo {
    pub humans: bool,
    pub locrits: bool,
    pub invitations: bool,
    pub internet: bool,
    pub platform: bool,
}

/// What callers may see of a Locrit. A missing flag reads as false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AccessTo {
    pub logs: bool,
    pub quick_memory: bool,
    pub full_memory: bool,
    pub llm_info: bool,
}

/// The memory services the original offered. Locrit keeps every memory in its store;
/// the value is kept because clients choose what to render from it, and `disabled`
/// turns memory off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemoryService {
    #[default]
    PlaintextFile,
    KuzuGraph,
    Disabled,
    BasicMemory,
    LancedbLangchain,
    LancedbMcp,
}

/// The public page of a Locrit, as the platform app reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicPage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_css: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_model_info: Option<bool>,
}

/// A persistent AI persona.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Locrit {
    /// Stable identity; the name can change, the id never does.
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// System-prompt template; `{name}` and `{description}` are substituted.
    pub persona: String,
    pub ollama_model: String,
    /// This Locrit's own Ollama server.
    pub ollama_url: Option<String>,
    pub open_to: OpenTo,
    pub access_to: AccessTo,
    pub memory_service: MemoryService,
    pub public_page: Option<PublicPage>,
    pub public_address: Option<String>,
    pub active: bool,
    /// The account that owns this Locrit, once accounts exist.
    pub owner_id: Option<String>,
    /// Settings this version does not know, kept from an import so nothing is lost.
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Locrit {
    /// The system prompt of this Locrit: its persona template, filled in.
    pub fn system_prompt(&self) -> String {
        self.persona
            .replace("{name}", &self.name)
            .replace("{description}", &self.description)
    }

    /// Applies a partial update, validating every field it sets.
    pub fn apply(&mut self, patch: LocritPatch) -> Result<(), ValidationError> {
        if let Some(name) = patch.name {
            self.name = validate_locrit_name(&name)?;
        }
        if let Some(description) = patch.description {
            self.description = description;
        }
        if let Some(persona) = patch.persona {
            self.persona = if persona.trim().is_empty() {
                DEFAULT_PERSONA.into()
            } else {
                persona
            };
        }
        if let Some(model) = patch.ollama_model {
            self.ollama_model = model.trim().to_owned();
        }
        if let Some(url) = patch.ollama_url {
            self.ollama_url = validate_ollama_url(url.as_deref())?;
        }
        if let Some(open_to) = patch.open_to {
            self.open_to = open_to;
        }
        if let Some(access_to) = patch.access_to {
            self.access_to = access_to;
        }
        if let Some(service) = patch.memory_service {
            self.memory_service = service;
        }
        if let Some(page) = patch.public_page {
            self.public_page = page;
        }
        if let Some(address) = patch.public_address {
            self.public_address = non_empty(address);
        }
        if let Some(active) = patch.active {
            self.active = active;
        }
        self.updated_at = now();
        Ok(())
    }
}

/// What a client gives to create a Locrit.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocrit {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub persona: Option<String>,
    pub ollama_model: String,
    #[serde(default)]
    pub ollama_url: Option<String>,
    #[serde(default)]
    pub open_to: Option<OpenTo>,
    #[serde(default)]
    pub access_to: Option<AccessTo>,
    #[serde(default)]
    pub memory_service: MemoryService,
    #[serde(default)]
    pub public_page: Option<PublicPage>,
    #[serde(default)]
    pub public_address: Option<String>,
    #[serde(default)]
    pub active: bool,
}

impl NewLocrit {
    /// Builds the Locrit, validating its fields. `default_ollama_url` is stored when the
    /// client gave none, so a new Locrit can chat at once (the original's could not).
    /// Flags the client did not give take the original's create defaults.
    pub fn into_locrit(self, default_ollama_url: &str) -> Result<Locrit, ValidationError> {
        let name = validate_locrit_name(&self.name)?;
        let model = self.ollama_model.trim().to_owned();
        if model.is_empty() {
            return Err(ValidationError::new("ollama_model", "must not be empty"));
        }
        let url = self.ollama_url.as_deref().or(Some(default_ollama_url));
        let created_at = now();
        Ok(Locrit {
            id: Uuid::now_v7(),
            name,
            description: self.description.trim().to_owned(),
            persona: self
                .persona
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_PERSONA.into()),
            ollama_model: model,
            ollama_url: validate_ollama_url(url)?,
            open_to: self.open_to.unwrap_or(OpenTo {
                humans: true,
                locrits: true,
                invitations: true,
                internet: false,
                platform: false,
            }),
            access_to: self.access_to.unwrap_or(AccessTo {
                logs: true,
                quick_memory: true,
                full_memory: false,
                llm_info: true,
            }),
            memory_service: self.memory_service,
            public_page: self.public_page,
            public_address: non_empty(self.public_address),
            active: self.active,
            owner_id: None,
            extra: Map::new(),
            created_at,
            updated_at: created_at,
        })
    }
}

/// A partial update: absent fields keep their value. For the nullable fields, `null` or
/// an empty string clears them.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocritPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub persona: Option<String>,
    pub ollama_model: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub ollama_url: Option<Option<String>>,
    pub open_to: Option<OpenTo>,
    pub access_to: Option<AccessTo>,
    pub memory_service: Option<MemoryService>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PublicPage>)]
    pub public_page: Option<Option<PublicPage>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub public_address: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Distinguishes a field given as `null` (Some(None)) from an absent one (None).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Checks a Locrit name and returns it trimmed. Any Unicode, spaces, dots and apostrophes
/// are fine; names are keys, never paths.
pub fn validate_locrit_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    let invalid = |message: &str| Err(ValidationError::new("name", message));
    if name.is_empty() {
        return invalid("must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return invalid("must be at most 128 characters");
    }
    if name.contains('/') {
        return invalid("must not contain '/'");
    }
    if name.chars().any(char::is_control) {
        return invalid("must not contain control characters");
    }
    if name == "list" {
        return invalid("'list' is reserved");
    }
    Ok(name.to_owned())
}

/// An Ollama URL must be an absolute http(s) URL; an empty one clears the setting.
fn validate_ollama_url(url: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if url == EMBEDDED_ENGINE {
        return Ok(Some(url.to_owned()));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !url.chars().any(char::is_whitespace) => {
            Ok(Some(url.trim_end_matches('/').to_owned()))
        }
        _ => Err(ValidationError::new(
            "ollama_url",
            "must be an http:// or https:// URL, or `embedded`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewLocrit {
        NewLocrit {
            name: name.into(),
            ollama_model: "llama3.2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_accept_unicode_spaces_dots_and_apostrophes() {
        for name in [
            "Pixie l'Organisateur",
            "v1.2",
            "Élodie",
            "Bob Technique",
            "🤖 bot",
        ] {
            let locrit = new(name).into_locrit("http://localhost:11434").unwrap();
            assert_eq!(locrit.name, name);
        }
    }

    #[test]
    fn names_reject_slash_reserved_empty_control() {
        for name in ["", "  ", "a/b", "list", "a\u{0}b", &"x".repeat(129)] {
            assert!(
                validate_locrit_name(name).is_err(),
                "{name:?} should be rejected"
            );
        }
    }

    #[test]
    fn create_stores_default_url_and_original_flag_defaults() {
        let locrit = new("Bob").into_locrit("http://localhost:11434/").unwrap();
        assert_eq!(locrit.ollama_url.as_deref(), Some("http://localhost:11434"));
        assert!(locrit.open_to.humans && !locrit.open_to.internet);
        assert!(locrit.access_to.quick_memory && !locrit.access_to.full_memory);
        assert_eq!(locrit.system_prompt(), "Tu es Bob, un Locrit. ");
        assert!(!locrit.active);
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let mut locrit = new("Bob").into_locrit("http://h:1").unwrap();
        locrit.public_address = Some("bob.example".into());
        let keep: LocritPatch = serde_json::from_str(r#"{"description":"d"}"#).unwrap();
        locrit.apply(keep).unwrap();
        assert_eq!(locrit.public_address.as_deref(), Some("bob.example"));
        let clear: LocritPatch = serde_json::from_str(r#"{"public_address":null}"#).unwrap();
        locrit.apply(clear).unwrap();
        assert_eq!(locrit.public_address, None);
        let bad: LocritPatch = serde_json::from_str(r#"{"ollama_url":"ftp://x"}"#).unwrap();
        assert_eq!(locrit.apply(bad).unwrap_err().field, "ollama_url");
    }

    #[test]
    fn the_embedded_engine_is_a_valid_server() {
        let locrit = new("Bob").into_locrit(EMBEDDED_ENGINE).unwrap();
        assert_eq!(locrit.ollama_url.as_deref(), Some(EMBEDDED_ENGINE));
        let near_miss = new("Bob").into_locrit("embedded-engine");
        assert_eq!(near_miss.unwrap_err().field, "ollama_url");
    }

    #[test]
    fn unknown_memory_service_is_rejected() {
        let err = serde_json::from_str::<LocritPatch>(r#"{"memory_service":"magic"}"#);
        assert!(err.is_err());
    }
}
