//! The HTTP endpoints, with Ollama's exact JSON shapes and error messages.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::failure::{Endpoint, FakeFailure};
use crate::model::{ChatCall, ChatCallMessage, FakeModel, Reply, fake_embedding, fnv1a};
use crate::respond::{self, NDJSON, Plan};
use crate::server::{OLLAMA_VERSION, Shared};

type Shd = State<Arc<Shared>>;

/// A fixed timestamp keeps `/api/tags` answers identical across runs.
const MODIFIED_AT: &str = "2025-01-15T10:17:21.253347517+01:00";
/// Fake nanosecond timings, reported in the chat counters.
const LOAD_NS: u64 = 1_000_000;
const PROMPT_TOKEN_NS: u64 = 1_000_000;
const EVAL_TOKEN_NS: u64 = 10_000_000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/api/version", get(version))
        .route("/api/tags", get(tags))
        .route("/api/show", post(show))
        .route("/api/chat", post(chat))
        .route("/api/embed", post(embed))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        // Ollama has no body limit; tests with long prompts should not hit axum's 2 MB.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn root() -> &'static str {
    "Ollama is running"
}

/// Gin's default answer for unknown routes.
async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

async fn version(State(shared): Shd) -> Response {
    let failure = begin(&shared, Endpoint::Version, Value::Null).await;
    let ok = Plan::json(StatusCode::OK, &json!({ "version": OLLAMA_VERSION }));
    respond::send(&shared, one_object(failure, ok, "model not found"))
}

async fn tags(State(shared): Shd) -> Response {
    let failure = begin(&shared, Endpoint::Tags, Value::Null).await;
    let models: Vec<Value> = shared.lock().models.values().map(tag_json).collect();
    let ok = Plan::json(StatusCode::OK, &json!({ "models": models }));
    respond::send(&shared, one_object(failure, ok, "model not found"))
}

async fn show(State(shared): Shd, bytes: Bytes) -> Response {
    let plan = show_plan(&shared, &bytes).await.unwrap_or_else(|e| e);
    respond::send(&shared, plan)
}

async fn chat(State(shared): Shd, bytes: Bytes) -> Response {
    let plan = chat_plan(&shared, &bytes).await.unwrap_or_else(|e| e);
    respond::send(&shared, plan)
}

async fn embed(State(shared): Shd, bytes: Bytes) -> Response {
    let plan = embed_plan(&shared, &bytes).await.unwrap_or_else(|e| e);
    respond::send(&shared, plan)
}

/// Records the request, takes the failure aimed at it, and serves a `Delay`.
async fn begin(shared: &Shared, endpoint: Endpoint, body: Value) -> Option<FakeFailure> {
    let failure = {
        let mut state = shared.lock();
        state.requests.push((endpoint, body));
        state.failures.take(endpoint)
    };
    if let Some(FakeFailure::Delay(delay)) = &failure {
        tokio::select! {
            () = tokio::time::sleep(*delay) => {}
            () = shared.cancel.cancelled() => {}
        }
    }
    failure
}

fn parse_body(bytes: &[u8]) -> Result<Value, Plan> {
    if bytes.is_empty() {
        return Err(Plan::error(400, "missing request body"));
    }
    serde_json::from_slice(bytes).map_err(|e| Plan::error(400, &e.to_string()))
}

fn model_name<'a>(body: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
}

/// Failures that replace the whole answer, on any endpoint.
fn early_failure(failure: &Option<FakeFailure>, not_found: &str) -> Result<(), Plan> {
    match failure {
        Some(FakeFailure::Http(status, message)) => Err(Plan::error(*status, message)),
        Some(FakeFailure::ModelNotFound) => Err(Plan::error(404, not_found)),
        _ => Ok(()),
    }
}

/// Applies a failure to an answer made of one JSON object.
fn one_object(failure: Option<FakeFailure>, ok: Plan, not_found: &str) -> Plan {
    if let Err(plan) = early_failure(&failure, not_found) {
        return plan;
    }
    match failure {
        Some(FakeFailure::ErrorLineAfter(_, message)) => Plan::error(500, &message),
        Some(FakeFailure::CutAfter(_) | FakeFailure::EndAfter(_)) => {
            let cut = matches!(failure, Some(FakeFailure::CutAfter(_)));
            let frames = ok
                .frames
                .into_iter()
                .take(1)
                .map(|(delay, bytes)| (delay, bytes.slice(..bytes.len() / 2)))
                .collect();
            Plan { frames, cut, ..ok }
        }
        Some(FakeFailure::MalformedAfter(_)) => Plan {
            frames: vec![(Duration::ZERO, Bytes::from_static(b"{\"model\": oops"))],
            ..ok
        },
        _ => ok,
    }
}

async fn show_plan(shared: &Shared, bytes: &[u8]) -> Result<Plan, Plan> {
    let body = parse_body(bytes)?;
    let failure = begin(shared, Endpoint::Show, body.clone()).await;
    // Ollama still accepts the older `name` field here.
    let name = model_name(&body, &["model", "name"]);
    let not_found = format!("model '{name}' not found");
    early_failure(&failure, &not_found)?;
    if name.is_empty() {
        return Err(Plan::error(400, "model is required"));
    }
    let model = shared
        .lock()
        .model(name)
        .cloned()
        .ok_or_else(|| Plan::error(404, &not_found))?;
    Ok(one_object(
        failure,
        Plan::json(StatusCode::OK, &show_json(&model)),
        &not_found,
    ))
}

async fn embed_plan(shared: &Shared, bytes: &[u8]) -> Result<Plan, Plan> {
    let body = parse_body(bytes)?;
    let failure = begin(shared, Endpoint::Embed, body.clone()).await;
    let name = model_name(&body, &["model"]);
    let not_found = format!("model \"{name}\" not found, try pulling it first");
    early_failure(&failure, &not_found)?;
    if name.is_empty() {
        return Err(Plan::error(400, "model is required"));
    }
    let inputs: Vec<&str> = match body.get("input") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| Plan::error(400, "invalid input type"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Plan::error(400, "invalid input type")),
    };
    let dim = {
        let state = shared.lock();
        state
            .model(name)
            .ok_or_else(|| Plan::error(404, &not_found))?;
        state.embed_dim
    };
    let embeddings: Vec<Vec<f32>> = inputs.iter().map(|t| fake_embedding(t, dim)).collect();
    let words: u64 = inputs.iter().map(|t| word_count(t)).sum();
    let answer = json!({
        "model": name,
        "embeddings": embeddings,
        "total_duration": LOAD_NS + words * PROMPT_TOKEN_NS,
        "load_duration": LOAD_NS,
        "prompt_eval_count": words,
    });
    Ok(one_object(
        failure,
        Plan::json(StatusCode::OK, &answer),
        &not_found,
    ))
}

async fn chat_plan(shared: &Shared, bytes: &[u8]) -> Result<Plan, Plan> {
    let body = parse_body(bytes)?;
    let structured = body.get("format").is_some_and(|f| !f.is_null());
    let endpoint = if structured {
        Endpoint::StructuredChat
    } else {
        Endpoint::Chat
    };
    let failure = begin(shared, endpoint, body.clone()).await;
    let name = model_name(&body, &["model"]);
    let not_found = format!("model \"{name}\" not found, try pulling it first");
    early_failure(&failure, &not_found)?;
    if name.is_empty() {
        return Err(Plan::error(400, "model is required"));
    }
    let messages = parse_messages(&body)?;
    let (reply, token_delay) = {
        let state = shared.lock();
        state
            .model(name)
            .ok_or_else(|| Plan::error(404, &not_found))?;
        let reply = match (&state.structured_reply, structured) {
            (_, false) => state.reply.clone(),
            (Some(reply), true) => reply.clone(),
            (None, true) => Reply::Text(smallest_instance(&body["format"]).to_string()),
        };
        (reply, state.token_delay)
    };
    let call = ChatCall {
        model: name.to_owned(),
        messages,
        body: body.clone(),
    };
    let generation = Generation::new(&call, &reply, &body["options"]);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(true);
    Ok(if stream {
        stream_plan(name, &generation, token_delay, failure)
    } else {
        let answer = final_json(name, Utc::now(), &generation.tokens.concat(), &generation);
        let mut plan = Plan::json(StatusCode::OK, &answer);
        plan.frames[0].0 = token_delay * generation.tokens.len() as u32;
        one_object(failure, plan, &not_found)
    })
}

fn parse_messages(body: &Value) -> Result<Vec<ChatCallMessage>, Plan> {
    let items = match body.get("messages") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Plan::error(400, "messages must be an array")),
    };
    let text = |m: &Value, key: &str| {
        m.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(items
        .iter()
        .map(|m| ChatCallMessage {
            role: text(m, "role"),
            content: text(m, "content"),
        })
        .collect())
}

/// The reply after `stop` and `num_predict`, with the counters Ollama reports.
struct Generation {
    tokens: Vec<String>,
    done_reason: &'static str,
    prompt_eval_count: u64,
}

impl Generation {
    fn new(call: &ChatCall, reply: &Reply, options: &Value) -> Self {
        // Ollama answers a chat without messages by just loading the model.
        if call.messages.is_empty() {
            return Self {
                tokens: Vec::new(),
                done_reason: "load",
                prompt_eval_count: 0,
            };
        }
        let mut tokens = reply.tokens_for(call);
        let stops: Vec<&str> = options["stop"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        cut_at_stop(&mut tokens, &stops);
        let mut done_reason = "stop";
        let limit = options["num_predict"].as_i64().unwrap_or(-1);
        if let Ok(limit) = usize::try_from(limit)
            && limit > 0
            && tokens.len() > limit
        {
            tokens.truncate(limit);
            done_reason = "length";
        }
        Self {
            tokens,
            done_reason,
            prompt_eval_count: call.messages.iter().map(|m| word_count(&m.content)).sum(),
        }
    }
}

/// Ends the reply just before the first stop sequence, as Ollama does.
fn cut_at_stop(tokens: &mut Vec<String>, stops: &[&str]) {
    let text = tokens.concat();
    let Some(at) = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s))
        .min()
    else {
        return;
    };
    let mut kept = Vec::new();
    let mut offset = 0;
    for token in tokens.drain(..) {
        if offset + token.len() <= at {
            offset += token.len();
            kept.push(token);
        } else {
            // `at` is a char boundary of the text, hence of this token.
            if offset < at {
                kept.push(token[..at - offset].to_owned());
            }
            break;
        }
    }
    *tokens = kept;
}

fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn final_json(model: &str, at: DateTime<Utc>, content: &str, generation: &Generation) -> Value {
    let mut answer = json!({
        "model": model,
        "created_at": timestamp(at),
        "message": { "role": "assistant", "content": content },
        "done_reason": generation.done_reason,
        "done": true,
    });
    if generation.done_reason != "load" {
        let prompt = generation.prompt_eval_count;
        let eval = generation.tokens.len() as u64;
        let counters = json!({
            "total_duration": LOAD_NS + prompt * PROMPT_TOKEN_NS + eval * EVAL_TOKEN_NS,
            "load_duration": LOAD_NS,
            "prompt_eval_count": prompt,
            "prompt_eval_duration": prompt * PROMPT_TOKEN_NS,
            "eval_count": eval,
            "eval_duration": eval * EVAL_TOKEN_NS,
        });
        if let (Some(a), Value::Object(c)) = (answer.as_object_mut(), counters) {
            a.extend(c);
        }
    }
    answer
}

fn stream_plan(
    model: &str,
    generation: &Generation,
    token_delay: Duration,
    failure: Option<FakeFailure>,
) -> Plan {
    let line = |value: Value| Bytes::from(format!("{value}\n"));
    let start = Utc::now();
    let at = |i: usize| start + token_delay * i as u32;
    let count = generation.tokens.len();
    let (sent, tail, cut) = match failure {
        Some(FakeFailure::CutAfter(n)) => (n.min(count), None, true),
        Some(FakeFailure::EndAfter(n)) => (n.min(count), None, false),
        Some(FakeFailure::MalformedAfter(n)) => (
            n.min(count),
            Some(Bytes::from_static(
                b"{\"model\": \"oops\", \"message\": {\n",
            )),
            false,
        ),
        Some(FakeFailure::ErrorLineAfter(n, message)) => {
            (n.min(count), Some(line(json!({ "error": message }))), false)
        }
        _ => (
            count,
            Some(line(final_json(model, at(count), "", generation))),
            false,
        ),
    };
    let mut frames: Vec<(Duration, Bytes)> = generation.tokens[..sent]
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let chunk = json!({
                "model": model,
                "created_at": timestamp(at(i + 1)),
                "message": { "role": "assistant", "content": token },
                "done": false,
            });
            (token_delay, line(chunk))
        })
        .collect();
    frames.extend(tail.map(|bytes| (Duration::ZERO, bytes)));
    Plan {
        status: StatusCode::OK,
        content_type: NDJSON,
        frames,
        cut,
    }
}

fn details_json(model: &FakeModel) -> Value {
    json!({
        "parent_model": "",
        "format": "gguf",
        "family": model.architecture,
        "families": [model.architecture],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    })
}

fn tag_json(model: &FakeModel) -> Value {
    let digest: String = (0u8..4)
        .map(|salt| format!("{:016x}", fnv1a(format!("{salt}{}", model.name).as_bytes())))
        .collect();
    json!({
        "name": model.name,
        "model": model.name,
        "modified_at": MODIFIED_AT,
        "size": model.size,
        "digest": digest,
        "details": details_json(model),
    })
}

fn show_json(model: &FakeModel) -> Value {
    let arch = &model.architecture;
    let mut info = Map::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert("general.file_type".into(), json!(15));
    info.insert("general.parameter_count".into(), json!(3_212_749_888u64));
    info.insert(format!("{arch}.block_count"), json!(28));
    info.insert(format!("{arch}.embedding_length"), json!(3072));
    if let Some(n) = model.context_length {
        info.insert(format!("{arch}.context_length"), json!(n));
    }
    let name = &model.name;
    json!({
        "license": "",
        "modelfile": format!(
            "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM {name}\n\nFROM {name}\nTEMPLATE \"{{{{ .Prompt }}}}\"\n"
        ),
        "parameters": "stop                           \"<|eot_id|>\"",
        "template": "{{ .Prompt }}",
        "details": details_json(model),
        "model_info": info,
        "capabilities": ["completion"],
        "modified_at": MODIFIED_AT,
    })
}

/// The smallest value a JSON schema accepts (required properties only, empty arrays,
/// zeros, empty strings): what a model that honours the schema and has nothing to say
/// answers. `"json"` (any JSON) gives `{}`.
fn smallest_instance(schema: &Value) -> Value {
    let kind = schema.get("type").and_then(Value::as_str);
    match kind {
        Some("object") => {
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            let fields = required
                .iter()
                .filter_map(Value::as_str)
                .map(|name| {
                    let field = smallest_instance(&schema["properties"][name]);
                    (name.to_owned(), field)
                })
                .collect();
            Value::Object(fields)
        }
        Some("array") => json!([]),
        Some("string") => json!(""),
        Some("number" | "integer") => json!(0),
        Some("boolean") => json!(false),
        Some("null") => Value::Null,
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stop_sequences_cut_inside_a_token() {
        let mut tokens = strings(&["Hello", " world", " STOP", " more"]);
        cut_at_stop(&mut tokens, &["ld S", "never"]);
        assert_eq!(tokens, strings(&["Hello", " wor"]));
        let mut untouched = strings(&["a", " b"]);
        cut_at_stop(&mut untouched, &["", "zzz"]);
        assert_eq!(untouched, strings(&["a", " b"]));
    }
}
