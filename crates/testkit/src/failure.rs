use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// The fake's HTTP endpoints, to aim failures at and read requests from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Tags,
    Version,
    Show,
    /// `/api/chat` requests without a `format`: conversation turns.
    Chat,
    /// `/api/chat` requests with a `format` (structured output, e.g. memory extraction):
    /// recorded, answered and failed apart from conversation turns.
    StructuredChat,
    Embed,
}

/// Ways to make the fake misbehave. Stream-shaped failures (`CutAfter`,
/// `EndAfter`, `MalformedAfter`, `ErrorLineAfter`) count streamed tokens on
/// `/api/chat`; on one-object answers (other endpoints, or chat with
/// `"stream": false`) they respectively cut the connection halfway through
/// the JSON, end the body halfway through it, garble it, or make it a 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// Answer this status with Ollama's `{"error": msg}` body.
    Http(u16, String),
    /// Answer as Ollama does for a model it does not have (404 and its
    /// endpoint-specific message), whatever the model.
    ModelNotFound,
    /// Stream this many tokens, then drop the connection: no `done` line, no
    /// terminating chunk.
    CutAfter(usize),
    /// Stream this many tokens, then end the body cleanly without the
    /// `done` line (as a truncating proxy would).
    EndAfter(usize),
    /// Stream this many tokens, then a line that is not JSON, then end.
    MalformedAfter(usize),
    /// Stream this many tokens, then Ollama's mid-stream `{"error": msg}`
    /// line (what it sends when a failure happens after the 200 header).
    ErrorLineAfter(usize, String),
    /// Wait this long before answering at all (no header, no byte), then
    /// answer normally.
    Delay(Duration),
}

/// One-shot failures are used up in the order they were queued, before any
/// persistent one for the same endpoint applies.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    once: VecDeque<(Endpoint, FakeFailure)>,
    always: HashMap<Endpoint, FakeFailure>,
}

impl Failures {
    pub(crate) fn push_once(&mut self, endpoint: Endpoint, failure: FakeFailure) {
        self.once.push_back((endpoint, failure));
    }

    pub(crate) fn set_always(&mut self, endpoint: Endpoint, failure: FakeFailure) {
        self.always.insert(endpoint, failure);
    }

    pub(crate) fn clear(&mut self) {
        self.once.clear();
        self.always.clear();
    }

    pub(crate) fn take(&mut self, endpoint: Endpoint) -> Option<FakeFailure> {
        match self.once.iter().position(|(e, _)| *e == endpoint) {
            Some(i) => self.once.remove(i).map(|(_, f)| f),
            None => self.always.get(&endpoint).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_failures_come_first_and_in_order() {
        let mut f = Failures::default();
        f.set_always(Endpoint::Chat, FakeFailure::ModelNotFound);
        f.push_once(Endpoint::Chat, FakeFailure::CutAfter(1));
        f.push_once(Endpoint::Embed, FakeFailure::CutAfter(9));
        f.push_once(Endpoint::Chat, FakeFailure::CutAfter(2));
        assert_eq!(f.take(Endpoint::Chat), Some(FakeFailure::CutAfter(1)));
        assert_eq!(f.take(Endpoint::Chat), Some(FakeFailure::CutAfter(2)));
        assert_eq!(f.take(Endpoint::Chat), Some(FakeFailure::ModelNotFound));
        assert_eq!(f.take(Endpoint::Chat), Some(FakeFailure::ModelNotFound));
        assert_eq!(f.take(Endpoint::Tags), None);
        assert_eq!(f.take(Endpoint::Embed), Some(FakeFailure::CutAfter(9)));
        assert_eq!(f.take(Endpoint::Embed), None);
        f.clear();
        assert_eq!(f.take(Endpoint::Chat), None);
    }
}
