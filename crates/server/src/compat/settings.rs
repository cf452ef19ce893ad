//! LocritSettings (§3.1): one Locrit as the original's clients read it, its name being
//! the key it is listed under, not a field.

use chrono::{DateTime, SecondsFormat, Utc};
use locrit_domain::Locrit;
use serde_json::{Value, json};

/// Every response that shows a Locrit's settings builds them here.
pub(super) fn locrit_settings(locrit: &Locrit) -> Value {
    // Unknown keys kept from an import first, so they can never hide a known field.
    let mut settings = locrit.extra.clone();
    let known = json!({
        "id": locrit.id,
        "description": locrit.description,
        "persona": locrit.persona,
        "ollama_model": locrit.ollama_model,
        "ollama_url": locrit.ollama_url,
        "memory_service": locrit.memory_service,
        "public_address": locrit.public_address,
        "active": locrit.active,
        "open_to": locrit.open_to,
        "access_to": locrit.access_to,
        "created_at": timestamp(locrit.created_at),
        "updated_at": timestamp(locrit.updated_at),
    });
    if let Value::Object(known) = known {
        settings.extend(known);
    }
    match &locrit.public_page {
        Some(page) => settings.insert("public_page".into(), json!(page)),
        None => settings.remove("public_page"),
    };
    Value::Object(settings)
}

/// RFC 3339 with an explicit offset (`2025-09-13T14:29:07.098618+00:00`).
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}
