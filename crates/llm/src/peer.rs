//! The client side of the inter-Locrit API: one Locrit speaking to a Locrit of another
//! Locrit server (`POST /api/v1/locrits/<name>/chat`), with that server's API key.

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::LlmError;
use crate::ollama::from_reqwest;

/// Another Locrit server.
#[derive(Debug, Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

/// One message from a Locrit of this server to the peer's Locrit.
#[derive(Debug, Clone, Serialize)]
pub struct PeerMessage<'a> {
    pub message: &'a str,
    /// The speaking Locrit's name.
    pub sender_name: &'a str,
    pub sender_type: &'static str,
    pub context: &'a str,
    /// Keeps one conversation per id on the peer (its own transcript).
    pub session_id: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PeerReply {
    pub response: String,
    /// Tokens the peer's model generated, when it says.
    #[serde(default)]
    pub tokens: Option<u64>,
}

impl PeerClient {
    /// `timeout` bounds a whole call: the peer answers once its model is done.
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()
            .map_err(from_reqwest)?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        })
    }

    /// Sends `message` to the peer's Locrit `name` and waits for its reply.
    pub async fn chat(&self, name: &str, message: &PeerMessage<'_>) -> Result<PeerReply, LlmError> {
        let name = utf8_percent_encode(name, NON_ALPHANUMERIC);
        let url = format!("{}/api/v1/locrits/{name}/chat", self.base_url);
        let mut request = self.http.post(url).json(message);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(from_reqwest)?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| LlmError::Protocol(format!("the peer's answer is not JSON: {e}")))?;
        if !status.is_success() {
            let message = body["error"].as_str().unwrap_or("no message").to_owned();
            return Err(LlmError::Status {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_value(body)
            .map_err(|e| LlmError::Protocol(format!("the peer's answer has no reply: {e}")))
    }
}
