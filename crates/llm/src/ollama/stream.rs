//! Decoding a streamed `/api/chat` NDJSON body into [`ChatEvent`]s.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};

use super::errors::from_reqwest;
use super::wire::ChatChunk;
use crate::{ChatEvent, ChatStream, LlmError};

/// A line this long without a newline is not Ollama talking.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// The returned stream owns the response body, so dropping it drops the
/// connection (hyper does not pool a half-read connection): that is what
/// cancels the generation on Ollama's side.
pub(super) fn chat_stream(response: reqwest::Response, idle: Duration) -> ChatStream {
    let decoder = Decoder {
        body: response.bytes_stream().boxed(),
        buf: Vec::new(),
        eof: false,
        queued: None,
        finished: false,
        idle,
    };
    Box::pin(stream::unfold(decoder, |mut decoder| async move {
        let item = decoder.next_event().await?;
        Some((item, decoder))
    }))
}

struct Decoder {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    buf: Vec<u8>,
    eof: bool,
    /// `Done` waiting behind a final line that also carried content.
    queued: Option<ChatEvent>,
    /// Set after `Done` or an error: the stream yields nothing more.
    finished: bool,
    idle: Duration,
}

impl Decoder {
    async fn next_event(&mut self) -> Option<Result<ChatEvent, LlmError>> {
        if let Some(event) = self.queued.take() {
            return Some(Ok(event));
        }
        if self.finished {
            return None;
        }
        let item = self.read_event().await;
        self.finished = self.queued.is_some() || !matches!(item, Ok(ChatEvent::Delta(_)));
        Some(item)
    }

    async fn read_event(&mut self) -> Result<ChatEvent, LlmError> {
        loop {
            while let Some(line) = self.take_line() {
                if let Some(event) = self.parse_line(&line)? {
                    return Ok(event);
                }
            }
            if self.eof {
                return Err(LlmError::Protocol("stream ended before done".into()));
            }
            match self.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.eof = true,
            }
            if self.buf.len() > MAX_LINE {
                return Err(LlmError::Protocol(format!(
                    "chat stream line longer than {MAX_LINE} bytes"
                )));
            }
        }
    }

    /// The next complete line; at end of body, whatever is left (Ollama ends
    /// every line with '\n', but a missing last one costs nothing to accept).
    fn take_line(&mut self) -> Option<Vec<u8>> {
        if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            line.pop();
            Some(line)
        } else if self.eof && !self.buf.is_empty() {
            Some(std::mem::take(&mut self.buf))
        } else {
            None
        }
    }

    fn parse_line(&mut self, line: &[u8]) -> Result<Option<ChatEvent>, LlmError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(None);
        }
        let chunk: ChatChunk = serde_json::from_slice(line).map_err(|e| {
            let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
            LlmError::Protocol(format!("malformed chat stream line ({e}): {shown}"))
        })?;
        if let Some(message) = chunk.error {
            // Ollama's streamResponse uses 500 for errors it could not send as a status.
            return Err(LlmError::Status {
                status: 500,
                message,
            });
        }
        let content = chunk.message.map(|m| m.content).unwrap_or_default();
        match (chunk.done, content.is_empty()) {
            (true, true) => Ok(Some(ChatEvent::Done(chunk.stats))),
            (true, false) => {
                self.queued = Some(ChatEvent::Done(chunk.stats));
                Ok(Some(ChatEvent::Delta(content)))
            }
            (false, true) => Ok(None),
            (false, false) => Ok(Some(ChatEvent::Delta(content))),
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, LlmError> {
        match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => Err(LlmError::Timeout(format!(
                "no data in the chat stream for {:?}",
                self.idle
            ))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
            Ok(Some(Err(e))) => Err(match from_reqwest(e) {
                LlmError::Connect(m) | LlmError::Protocol(m) => {
                    LlmError::Protocol(format!("chat stream cut: {m}"))
                }
                other => other,
            }),
        }
    }
}
