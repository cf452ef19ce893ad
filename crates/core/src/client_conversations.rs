//! Conversations of clients that resend their whole history with every message (the
//! OpenAI and Ollama chat protocols), mapped to Locrit sessions so that each message is
//! stored once and every turn goes through the chat engine like any other.
//!
//! Which session a request continues:
//! 1. the session the client names (`session_key`, an HTTP header): the stored history
//!    is the context, the request's earlier messages are not read;
//! 2. else the session whose stored history is exactly the request's earlier messages:
//!    found by a fingerprint of their roles and contents (and the client's `user`, so two
//!    users never share a session), recorded in the store after each completed turn;
//! 3. else a new session, holding the request's earlier messages as the client sent
//!    them. This covers a new chat, a chat begun with another model, and a client that
//!    edits a message or regenerates a reply: its history no longer matches the stored
//!    one, so it continues in a fork, and the first session is left as it was.
//!
//! Only the request's last message, from the user, is new: it is the turn's text. The
//! client's `system` messages are added to the Locrit's persona for this turn.
//!
//! A turn that ends without a reply leaves the session where the client's retry (the
//! same conversation again) finds it: the failed message stays stored, marked
//! unanswered, and the retry's copy is answered in the same session.

use locrit_domain::{Caller, Locrit, NewMessage, Role, SessionKind, ValidationError, may_chat};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::chat::{SessionTarget, Turn, TurnEnd, TurnRequest};
use crate::{Core, NewSessionSpec, Result};

/// One message of a client's history, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    pub role: Role,
    pub content: String,
}

/// A chat request of a client that sends its whole history.
#[derive(Debug, Clone)]
pub struct ClientChat {
    pub locrit: Locrit,
    pub caller: Caller,
    /// The whole conversation, oldest first; the last message is the user's new one.
    pub messages: Vec<ClientMessage>,
    /// The session the client names, if it names one.
    pub session_key: Option<String>,
    /// The end user the client speaks for: recorded on messages and sessions, and part
    /// of the history's fingerprint.
    pub user: Option<String>,
    /// The protocol (`openai`, `ollama`), recorded in the metadata of new sessions.
    pub protocol: &'static str,
}

/// A turn started for a client.
pub struct ClientTurn {
    pub turn: Turn,
    recorded: JoinHandle<TurnEnd>,
}

impl ClientTurn {
    /// How the turn ended, once the session's new state is recorded: a client that sends
    /// its next message as soon as it has this answer finds the same session. The
    /// recording goes on if this is never awaited (a client that went away).
    pub async fn end(self) -> TurnEnd {
        match self.recorded.await {
            Ok(end) => end,
            Err(_) => self.turn.finished().await,
        }
    }
}

impl Core {
    /// Starts the turn of a client's chat request, in the session it continues.
    pub async fn start_client_turn(&self, chat: ClientChat) -> Result<ClientTurn> {
        let ClientChat {
            locrit,
            caller,
            mut messages,
            session_key,
            user,
            protocol,
        } = chat;
        let text = match messages.pop() {
            Some(ClientMessage {
                role: Role::User,
                content,
            }) if !content.trim().is_empty() => content,
            _ => {
                return Err(ValidationError::new(
                    "messages",
                    "the last message must be the user's, and not empty",
                )
                .into());
            }
        };
        may_chat(&locrit, caller)?;
        let (system, history): (Vec<_>, Vec<_>) =
            messages.into_iter().partition(|m| m.role == Role::System);
        let system_additions = system.into_iter().map(|m| m.content).collect();
        let spec = |key: String| NewSessionSpec {
            key,
            kind: SessionKind::Chat,
            name: None,
            user_id: user.clone(),
            metadata: json!({ "client": protocol }),
        };

        let scope = user.clone().unwrap_or_default();
        let (session, follows_history) = match session_key {
            Some(key) => {
                locrit_domain::validate_client_id("session", &key)?;
                (SessionTarget::Open(spec(key)), false)
            }
            None => (
                self.continued_session(&locrit, &scope, &history, spec(new_key()), protocol)
                    .await?,
                true,
            ),
        };
        let key = match &session {
            SessionTarget::Open(spec) => spec.key.clone(),
            SessionTarget::Existing { key, .. } => key.clone(),
        };
        let locrit_id = locrit.id;
        let started = self
            .start_turn(TurnRequest {
                locrit,
                session,
                caller,
                text: text.clone(),
                user_id: user,
                system_additions,
            })
            .await;
        let turn = match started {
            Ok(turn) => turn,
            Err(error) => {
                // The user's message may be stored (the model did not start): the
                // client's retry resends it and should land in this session.
                if follows_history
                    && let Ok(Some(session)) = self.store.session(locrit_id, &key).await
                {
                    self.remember(locrit_id, &scope, &history, session.id, session.last_seq)
                        .await;
                }
                return Err(error);
            }
        };

        let core = self.clone();
        let (session_id, user_seq, log) =
            (turn.session.id, turn.user_message.seq, turn.log.clone());
        let recorded = tokio::spawn(async move {
            let end = log.finished().await;
            if !follows_history {
                return end;
            }
            let mut state = history;
            let last_seq = match &end {
                TurnEnd::Completed(reply) => {
                    state.push(ClientMessage {
                        role: Role::User,
                        content: text,
                    });
                    state.push(ClientMessage {
                        role: Role::Assistant,
                        content: reply.content.clone(),
                    });
                    reply.seq
                }
                // Unanswered: the client will resend the same conversation; the failed
                // message stays in the transcript, marked, and out of later prompts.
                TurnEnd::Cancelled(partial) | TurnEnd::Failed { partial, .. } => {
                    partial.as_ref().map_or(user_seq, |m| m.seq)
                }
            };
            core.remember(locrit_id, &scope, &state, session_id, last_seq)
                .await;
            end
        });
        Ok(ClientTurn { turn, recorded })
    }

    /// Records that the session, at `last_seq`, is where a client with this history
    /// continues. An empty history always starts a new session: nothing to record.
    async fn remember(
        &self,
        locrit_id: Uuid,
        scope: &str,
        history: &[ClientMessage],
        session_id: Uuid,
        last_seq: i64,
    ) {
        if history.is_empty() {
            return;
        }
        let print = fingerprint(scope, history);
        if let Err(error) = self
            .store
            .put_client_conversation(locrit_id, &print, session_id, last_seq)
            .await
        {
            // The client's next request will start a fork: worse, but nothing is lost.
            tracing::warn!(%error, "could not record a client conversation");
        }
    }

    /// The session whose history is `history`, or a new one holding it.
    async fn continued_session(
        &self,
        locrit: &Locrit,
        scope: &str,
        history: &[ClientMessage],
        new: NewSessionSpec,
        protocol: &'static str,
    ) -> Result<SessionTarget> {
        if history.is_empty() {
            return Ok(SessionTarget::Open(new));
        }
        if let Some(session) = self
            .store
            .client_conversation(locrit.id, &fingerprint(scope, history))
            .await?
        {
            return Ok(SessionTarget::Existing {
                kind: None,
                key: session.key,
            });
        }
        let user_id = new.user_id.clone();
        let session = self.create_session(locrit, new).await?;
        let seeded: Vec<NewMessage> = history
            .iter()
            .map(|m| NewMessage {
                user_id: user_id.clone().filter(|_| m.role == Role::User),
                metadata: json!({ "from_client": protocol }),
                ..NewMessage::new(m.role, m.content.clone())
            })
            .collect();
        self.store.append_messages(session.id, &seeded).await?;
        Ok(SessionTarget::Existing {
            kind: None,
            key: session.key,
        })
    }
}

fn new_key() -> String {
    Uuid::now_v7().to_string()
}

/// A digest of a conversation: the scope, then each message's role and content (trimmed:
/// clients often strip the reply they show). Lengths are written before each part, so
/// no two different conversations write the same bytes.
fn fingerprint(scope: &str, messages: &[ClientMessage]) -> String {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(b"locrit client conversation v1");
    part(scope.as_bytes());
    for message in messages {
        part(message.role.as_str().as_bytes());
        part(message.content.trim().as_bytes());
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(role: Role, content: &str) -> ClientMessage {
        ClientMessage {
            role,
            content: content.into(),
        }
    }

    #[test]
    fn fingerprints_tell_conversations_and_users_apart_but_not_whitespace() {
        let a = [said(Role::User, "hi"), said(Role::Assistant, "hello")];
        let print = fingerprint("", &a);
        assert_eq!(print.len(), 64);
        assert_eq!(
            print,
            fingerprint(
                "",
                &[said(Role::User, " hi\n"), said(Role::Assistant, "hello ")]
            )
        );
        assert_ne!(print, fingerprint("alice", &a));
        assert_ne!(
            print,
            fingerprint(
                "",
                &[said(Role::Assistant, "hi"), said(Role::Assistant, "hello")]
            )
        );
        assert_ne!(
            print,
            fingerprint("", &[said(Role::User, "hihello")]),
            "no two histories write the same bytes"
        );
        assert_ne!(print, fingerprint("", &a[..1]));
    }
}
