//! Ollama's JSON shapes, as sent and received on the wire. Incoming structs
//! are lenient (`default` everywhere): Ollama adds fields between versions
//! and older ones omit some.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ChatMessage, ChatOptions, ChatRequest, ChatStats, ModelInfo};

#[derive(Serialize)]
pub(super) struct ChatBody<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    #[serde(skip_serializing_if = "no_options")]
    options: &'a ChatOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a Value>,
}

fn no_options(options: &&ChatOptions) -> bool {
    options.is_empty()
}

impl<'a> ChatBody<'a> {
    pub(super) fn streaming(request: &'a ChatRequest) -> Self {
        Self {
            model: &request.model,
            messages: &request.messages,
            stream: true,
            options: &request.options,
            format: request.format.as_ref(),
        }
    }
}

/// One NDJSON line of a streamed `/api/chat` reply.
#[derive(Deserialize)]
pub(super) struct ChatChunk {
    #[serde(default)]
    pub message: Option<ChunkMessage>,
    #[serde(default)]
    pub done: bool,
    /// Ollama reports failures after the 200 header as a `{"error": ...}` line.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(flatten)]
    pub stats: ChatStats,
}

#[derive(Deserialize)]
pub(super) struct ChunkMessage {
    #[serde(default)]
    pub content: String,
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    pub error: String,
}

#[derive(Deserialize)]
pub(super) struct TagsResponse {
    #[serde(default)]
    models: Option<Vec<TagModel>>,
}

#[derive(Deserialize)]
struct TagModel {
    name: String,
    #[serde(default)]
    modified_at: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

impl TagsResponse {
    pub(super) fn into_models(self) -> Vec<ModelInfo> {
        self.models
            .unwrap_or_default()
            .into_iter()
            .map(|m| ModelInfo {
                name: m.name,
                modified_at: m.modified_at,
                size: m.size,
            })
            .collect()
    }
}

#[derive(Serialize)]
pub(super) struct ShowBody<'a> {
    pub model: &'a str,
}

#[derive(Deserialize)]
pub(super) struct ShowResponse {
    #[serde(default)]
    model_info: Option<Map<String, Value>>,
}

impl ShowResponse {
    /// `model_info["<arch>.context_length"]`: the key is namespaced by the
    /// architecture, so it has to be looked up through `general.architecture`.
    pub(super) fn context_length(&self) -> Option<u32> {
        let info = self.model_info.as_ref()?;
        let arch = info.get("general.architecture")?.as_str()?;
        let n = info.get(&format!("{arch}.context_length"))?.as_u64()?;
        Some(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[derive(Serialize)]
pub(super) struct EmbedBody<'a> {
    pub model: &'a str,
    pub input: &'a [String],
}

#[derive(Deserialize)]
pub(super) struct EmbedResponse {
    #[serde(default)]
    pub embeddings: Vec<Vec<f32>>,
}
