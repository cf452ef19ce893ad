//! `POST /api/chat`: a turn of the Locrit named by `model`, streamed as NDJSON (Ollama's
//! default) or answered in one object, with the model's counters in the last object.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Body};
use futures::{StreamExt, stream};
use locrit_core::chat::{TurnEnd, TurnEvent};
use locrit_core::{ClientMessage, ClientTurn, Core};
use locrit_domain::{Message, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::OllamaError;
use crate::ApiError;
use crate::auth::Who;
use crate::chat_clients;
use crate::error::turn_failure;
use crate::extract::AnyJson;

/// What Locrit reads of a request; `options`, `format`, `keep_alive`… are accepted and
/// ignored: the Locrit's own settings apply.
#[derive(Deserialize)]
pub struct ChatRequest {
    model: String,
    messages: Vec<RequestMessage>,
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct RequestMessage {
    role: String,
    #[serde(default)]
    content: String,
}

fn client_message(index: usize, message: RequestMessage) -> Result<ClientMessage, ApiError> {
    let role = match message.role.as_str() {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(ApiError::bad_request(format!(
                "messages[{index}]: role {other:?} is not supported (tools are not)"
            ))
            .with_field(format!("messages[{index}].role")));
        }
    };
    Ok(ClientMessage {
        role,
        content: message.content,
    })
}

pub async fn chat(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    body: Result<AnyJson<ChatRequest>, ApiError>,
) -> Result<Response, OllamaError> {
    // No messages: Ollama loads the model; there is nothing to load here (a 400).
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
        None,
        "ollama",
    )
    .await?;
    let session = chat_clients::session_header(&turn);
    let model = request.model;
    if request.stream.unwrap_or(true) {
        return Ok((session, stream_reply(model, turn)).into_response());
    }
    let user_message = turn.turn.user_message.clone();
    match turn.end().await {
        TurnEnd::Completed(reply) => {
            Ok((session, Json(last_object(&model, &reply, &reply.content))).into_response())
        }
        end => Err(turn_failure(&end, &user_message, |m| json!(m.id)).into()),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn piece(model: &str, text: &str) -> Value {
    json!({
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": text},
        "done": false,
    })
}

/// The final object: `done`, the reason, and the model's counters.
fn last_object(model: &str, reply: &Message, content: &str) -> Value {
    let mut object = json!({
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": content},
        "done": true,
        "done_reason": "stop",
    });
    if let Ok(Value::Object(stats)) = serde_json::to_value(chat_clients::stats(&reply.metadata)) {
        object.as_object_mut().expect("an object").extend(stats);
    }
    object
}

/// One JSON object a line: the deltas, then the final object, or `{"error"}` if the
/// turn fails. The end waits for the conversation to be recorded, so the client's next
/// request finds it.
fn stream_reply(model: String, turn: ClientTurn) -> Response {
    let log = turn.turn.log.clone();
    let user_message = turn.turn.user_message.clone();
    let deltas = log.follow(0).filter_map({
        let model = model.clone();
        move |event| {
            std::future::ready(match event {
                TurnEvent::Delta { text, .. } => Some(piece(&model, &text)),
                TurnEvent::End(_) => None,
            })
        }
    });
    let end = stream::once(turn.end()).map(move |end| match end {
        TurnEnd::Completed(reply) => last_object(&model, &reply, ""),
        end => json!({"error": turn_failure(&end, &user_message, |m| json!(m.id)).message}),
    });
    let lines = deltas.chain(end).map(|object| {
        let mut line = object.to_string();
        line.push('\n');
        Ok::<_, std::convert::Infallible>(line)
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        Body::from_stream(lines),
    )
        .into_response()
}
