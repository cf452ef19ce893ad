//! `POST /v1/chat/completions`: a turn of the Locrit named by `model`, answered whole
//! (`chat.completion`) or as Server-Sent Events (`chat.completion.chunk`s, then
//! `data: [DONE]`), with `usage` from the model's counters.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, stream};
use locrit_core::chat::{TurnEnd, TurnEvent};
use locrit_core::{ClientMessage, ClientTurn, Core};
use locrit_domain::{Message, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{OpenAiError, error_object};
use crate::ApiError;
use crate::auth::Who;
use crate::chat_clients;
use crate::error::turn_failure;
use crate::extract::AnyJson;

/// What Locrit reads of a request; other fields (sampling knobs, tools…) are accepted
/// and ignored: the Locrit's own settings apply.
#[derive(Deserialize)]
pub struct CompletionRequest {
    model: String,
    messages: Vec<RequestMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    /// The end user: recorded on the messages, and keeps users' conversations apart.
    user: Option<String>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct RequestMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

fn invalid(message: impl Into<String>, field: &str) -> ApiError {
    ApiError::bad_request(message).with_field(field)
}

/// A request message as the core reads it: text only, `developer` as `system`.
fn client_message(index: usize, message: RequestMessage) -> Result<ClientMessage, ApiError> {
    let role = match message.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(invalid(
                format!("messages[{index}]: role {other:?} is not supported (tools are not)"),
                &format!("messages[{index}].role"),
            ));
        }
    };
    let content = match message.content {
        None => String::new(),
        Some(Content::Text(text)) => text,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (part.kind.as_str(), part.text) {
                    ("text", Some(part)) => text.push_str(&part),
                    (kind, _) => {
                        return Err(invalid(
                            format!("messages[{index}]: content of type {kind:?} is not supported"),
                            &format!("messages[{index}].content"),
                        ));
                    }
                }
            }
            text
        }
    };
    Ok(ClientMessage { role, content })
}

pub async fn create(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    body: Result<AnyJson<CompletionRequest>, ApiError>,
) -> Result<Response, OpenAiError> {
    let AnyJson(request) = body?;
    let messages = request
        .messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| client_message(index, message))
        .collect::<Result<Vec<_>, _>>()?;
    let turn = chat_clients::start_turn(
        &core,
        &requester,
        &headers,
        &request.model,
        messages,
        request.user,
        "openai",
    )
    .await?;
    let head = Head {
        id: format!("chatcmpl-{}", turn.turn.id),
        created: chrono::Utc::now().timestamp(),
        model: request.model,
    };
    let session = chat_clients::session_header(&turn);
    if request.stream {
        let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
        return Ok((session, stream_reply(head, turn, include_usage)).into_response());
    }
    let user_message = turn.turn.user_message.clone();
    match turn.end().await {
        TurnEnd::Completed(reply) => {
            let body = json!({
                "id": head.id,
                "object": "chat.completion",
                "created": head.created,
                "model": head.model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": finish_reason(&reply),
                    "logprobs": null,
                }],
                "usage": usage(&reply),
            });
            Ok((session, Json(body)).into_response())
        }
        end => Err(turn_failure(&end, &user_message, |m| json!(m.id)).into()),
    }
}

/// What every chunk of one completion repeats.
struct Head {
    id: String,
    created: i64,
    model: String,
}

impl Head {
    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    fn delta(&self, delta: Value, finish_reason: Option<&str>) -> Event {
        data(&self.chunk(json!([{
            "index": 0,
            "delta": delta,
            "finish_reason": finish_reason,
            "logprobs": null,
        }])))
    }
}

fn data(value: &Value) -> Event {
    Event::default().data(value.to_string())
}

/// The reply as chunks: the role, each delta, the finish reason, the usage if asked,
/// then `[DONE]`. A failure after the start is an `error` event, and no `[DONE]`. The
/// end waits for the conversation to be recorded, so the client's next request finds it.
fn stream_reply(head: Head, turn: ClientTurn, include_usage: bool) -> Response {
    let log = turn.turn.log.clone();
    let user_message = turn.turn.user_message.clone();
    let first = head.delta(json!({"role": "assistant", "content": ""}), None);
    let head = std::sync::Arc::new(head);
    let deltas = log.follow(0).filter_map({
        let head = head.clone();
        move |event| {
            let chunk = match event {
                TurnEvent::Delta { text, .. } => Some(head.delta(json!({"content": text}), None)),
                TurnEvent::End(_) => None,
            };
            std::future::ready(chunk)
        }
    });
    let end = stream::once(turn.end()).flat_map(move |end| {
        let events = match end {
            TurnEnd::Completed(reply) => {
                let mut events = vec![head.delta(json!({}), Some(finish_reason(&reply)))];
                if include_usage {
                    let mut chunk = head.chunk(json!([]));
                    chunk["usage"] = usage(&reply);
                    events.push(data(&chunk));
                }
                events.push(Event::default().data("[DONE]"));
                events
            }
            end => {
                let error = turn_failure(&end, &user_message, |m| json!(m.id));
                vec![data(&json!({"error": error_object(&error)}))]
            }
        };
        stream::iter(events)
    });
    let events = stream::once(std::future::ready(first))
        .chain(deltas)
        .chain(end)
        .map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn finish_reason(reply: &Message) -> &'static str {
    match chat_clients::stats(&reply.metadata).done_reason.as_deref() {
        Some("length") => "length",
        _ => "stop",
    }
}

fn usage(reply: &Message) -> Value {
    let stats = chat_clients::stats(&reply.metadata);
    let prompt = stats.prompt_eval_count.unwrap_or(0);
    let completion = stats.eval_count.unwrap_or(0);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}
