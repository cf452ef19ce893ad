//! Socket.IO packets from a client, over the polling transport through the router: the
//! events the original's clients send (and any other), with any payload. The handlers
//! run in their own tasks: a panic there aborts the process (libFuzzer's panic hook,
//! and the replay test's).

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use axum::body::{Body, to_bytes};
use axum::http::Request;
use serde_json::Value;

use crate::harness::{Harness, harness};
use crate::json::{Json, Text};

const EVENTS: [&str; 6] = [
    "join_chat",
    "leave_chat",
    "chat_message",
    "stop_generation",
    "watch_memory",
    "unwatch_memory",
];

#[derive(Arbitrary, Debug)]
enum Packet {
    Event {
        event: u8,
        data: Vec<Json>,
        ack: Option<u16>,
    },
    Custom(Text, Json),
    /// An engine.io payload as it is.
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    chat_namespace: bool,
    packets: Vec<Packet>,
}

/// How long the handlers get to run on what was sent.
const SETTLE: Duration = Duration::from_millis(20);

/// Any packets after a connection: no panic; the transport answers with 200 or a JSON
/// error.
pub fn socketio_packets(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let h = harness();
    h.block_on(async {
        let sid = h.open_polling().await;
        let namespace = if input.chat_namespace { "/chat," } else { "" };
        let mut payload = format!("40{namespace}");
        for packet in &input.packets {
            payload.push('\u{1e}');
            payload.push_str(&packet.encode(namespace));
        }
        let response = h.send(post(&sid, payload)).await;
        h.assert_answer("a Socket.IO POST", response).await;
        tokio::time::sleep(SETTLE).await;
        // Closing the engine.io session ends the socket's tasks.
        let response = h.send(post(&sid, "1".into())).await;
        h.assert_answer("a Socket.IO close", response).await;
    });
}

impl Packet {
    fn encode(&self, namespace: &str) -> String {
        match self {
            Packet::Event { event, data, ack } => {
                let event = EVENTS[usize::from(*event) % EVENTS.len()];
                let mut array = vec![Value::from(event)];
                array.extend(data.iter().map(Json::to_value));
                let ack = ack.map(|id| id.to_string()).unwrap_or_default();
                format!("42{namespace}{ack}{}", Value::Array(array))
            }
            Packet::Custom(event, data) => {
                let array = Value::Array(vec![Value::from(event.as_str()), data.to_value()]);
                format!("42{namespace}{array}")
            }
            Packet::Raw(raw) => raw.clone(),
        }
    }
}

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

fn post(sid: &str, payload: String) -> Request<Body> {
    Request::post(format!("{POLLING}&sid={sid}"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Body::from(payload))
        .expect("a valid request")
}

impl Harness {
    /// The engine.io handshake: the new session's id.
    async fn open_polling(&self) -> String {
        let request = Request::get(POLLING)
            .body(Body::empty())
            .expect("a valid request");
        let response = self.send(request).await;
        assert!(response.status().is_success(), "handshake: {response:?}");
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("handshake body");
        let open: Value = serde_json::from_slice(body.strip_prefix(b"0").unwrap_or(&body))
            .expect("an engine.io open packet");
        open["sid"].as_str().expect("a session id").to_owned()
    }
}
