//! A minimal Socket.IO v5 client (Engine.IO v4 over WebSocket) on the `/chat`
//! namespace: enough to hold a thousand connections from one process. The protocol
//! itself is tested against python-socketio in the server's tests.

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const NAMESPACE: &str = "/chat";

pub struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Connects to the server at `base` (`http://host:port`), past the `connected` event.
    pub async fn connect(base: &str) -> anyhow::Result<Self> {
        let host = base.trim_start_matches("http://");
        let url = format!("ws://{host}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = connect_async(url).await.context("a WebSocket")?;
        let mut socket = Self(ws);
        let open = socket.0.next().await.context("the open packet")??;
        if !open.to_text()?.starts_with('0') {
            bail!("not an Engine.IO open packet: {open}");
        }
        socket.send_text(format!("40{NAMESPACE},")).await?;
        while socket.next_event().await?.0 != "connected" {}
        Ok(socket)
    }

    /// The next event on `/chat`, answering pings on the way.
    pub async fn next_event(&mut self) -> anyhow::Result<(String, Value)> {
        let prefix = format!("42{NAMESPACE},");
        loop {
            let message = self.0.next().await.context("the connection closed")??;
            let Ok(text) = message.to_text() else {
                continue;
            };
            if text == "2" {
                self.send_text("3".into()).await?;
            } else if let Some(event) = text.strip_prefix(&prefix) {
                let mut event: Vec<Value> = serde_json::from_str(event)?;
                let data = event.pop().unwrap_or(Value::Null);
                let name = event.first().and_then(Value::as_str).unwrap_or_default();
                return Ok((name.to_owned(), data));
            }
        }
    }

    pub async fn emit(&mut self, event: &str, data: Value) -> anyhow::Result<()> {
        self.send_text(format!("42{NAMESPACE},{}", json!([event, data])))
            .await
    }

    async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        Ok(self.0.send(Message::text(text)).await?)
    }
}
