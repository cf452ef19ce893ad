//! The chat engine: the one code path of a turn, whatever the transport.
//!
//! 1. Load the Locrit and check that this caller may talk to it.
//! 2. Store the user's message (committed) before any of the reply is read.
//! 3. Build the prompt once (persona, recalled knowledge, history, the new message).
//! 4. Call the model on the Locrit's own Ollama server, streaming (alongside step 2's
//!    commit: the reply is dropped unread if the commit fails).
//! 5. Store the reply with its metadata, or what arrived of it, marked.
//! 6. Publish every delta and the end on the turn's [`TurnLog`].
//!
//! Steps 1–4 happen before [`Core::start_turn`] returns, so a caller learns at once,
//! with a proper error, when the model cannot be reached. Steps 5–6 run in their own
//! task: a caller that goes away does not stop the reply from being stored.

mod history;
mod log;
mod mirror;
mod prompt;
mod recall;
mod runner;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locrit_domain::{
    Caller, Locrit, Message, NewMessage, Role, Session, SessionKind, SessionStatus, may_chat,
};
use locrit_llm::{ChatOptions, ChatRequest, LlmBackend};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use log::{TurnEnd, TurnError, TurnEvent, TurnLog};
pub(crate) use mirror::MIRROR_SILENCE;
pub use prompt::{DEFAULT_CONTEXT, MAX_CONTEXT, estimate_tokens};

use crate::events::Event;
use crate::{Core, Error, NewSessionSpec, Result};

/// How long a model's context length is trusted before asking again.
const CONTEXT_CACHE_TTL: Duration = Duration::from_secs(300);
/// How long a finished turn's log stays available to late readers (SSE resumption).
const FINISHED_TURN_RETENTION: Duration = Duration::from_secs(300);
/// ...and at most this many finished turns are kept, so memory stays bounded under load.
const FINISHED_TURN_CAP: usize = 1024;

/// Which session a turn goes to.
#[derive(Debug, Clone)]
pub enum SessionTarget {
    /// A chat session with this key, created on first use (the original's session mode).
    Open(NewSessionSpec),
    /// An existing session (of this kind, if given); unknown or deleted is `NotFound`.
    Existing {
        kind: Option<SessionKind>,
        key: String,
    },
}

/// One message to a Locrit.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub locrit: Locrit,
    pub session: SessionTarget,
    pub caller: Caller,
    pub text: String,
    pub user_id: Option<String>,
    /// Lines added to the system prompt for this turn (who is speaking, context).
    pub system_additions: Vec<String>,
}

/// A turn under way: its user message is stored, the model has started answering.
pub struct Turn {
    pub id: Uuid,
    pub locrit: Locrit,
    pub session: Session,
    pub user_message: Message,
    pub log: Arc<TurnLog>,
}

impl Turn {
    /// Waits for the end of the turn.
    pub async fn finished(&self) -> TurnEnd {
        self.log.finished().await
    }
}

struct ActiveTurn {
    log: Arc<TurnLog>,
    cancel: CancellationToken,
    session_id: Uuid,
    /// For a turn running on another server: when it was last heard of.
    mirror: Option<Mutex<Instant>>,
}

/// A model on a server: (server URL, model name).
type ModelKey = (String, String);
/// A model's context length, and when it was learned.
type CachedContext = (Option<u32>, Instant);

/// What the engine keeps between turns.
#[derive(Default)]
pub(crate) struct ChatState {
    turns: Mutex<HashMap<Uuid, ActiveTurn>>,
    /// Finished turns, oldest first, with when they finished.
    finished: Mutex<VecDeque<(Uuid, Instant)>>,
    session_locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    context_lengths: Mutex<HashMap<ModelKey, CachedContext>>,
    histories: history::KeptHistories,
}

impl ChatState {
    /// Records that a turn ended, and forgets the finished turns past their retention.
    fn finished(&self, turn_id: Uuid) {
        let mut finished = self.finished.lock().expect("finished turns");
        finished.push_back((turn_id, Instant::now()));
        let mut turns = self.turns.lock().expect("turns");
        while let Some(&(oldest, at)) = finished.front() {
            if finished.len() <= FINISHED_TURN_CAP && at.elapsed() < FINISHED_TURN_RETENTION {
                break;
            }
            finished.pop_front();
            turns.remove(&oldest);
        }
    }

    /// The lock that serialises the turns of one session.
    fn session_lock(&self, session_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.session_locks.lock().expect("session locks");
        // Forget locks nobody holds, so the map stays as small as the live sessions.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(session_id).or_default().clone()
    }
}

impl Core {
    /// Starts a turn: checks, stores the user's message, and starts the model. Returns
    /// an error, with the user's message still stored, if the model cannot start.
    pub async fn start_turn(&self, request: TurnRequest) -> Result<Turn> {
        let TurnRequest {
            locrit,
            session,
            caller,
            text,
            user_id,
            system_additions,
        } = request;
        may_chat(&locrit, caller)?;
        if locrit.ollama_model.trim().is_empty() {
            return Err(Error::NoModel);
        }
        let Some(url) = locrit.ollama_url.clone() else {
            return Err(Error::NoModelServer);
        };
        let session = self.turn_session(&locrit, session).await?;

        let lock = self.chat.session_lock(session.id).lock_owned().await;
        let turn_id = Uuid::now_v7();
        let new_message = NewMessage {
            user_id: user_id.clone(),
            metadata: json!({"turn_id": turn_id}),
            ..NewMessage::new(Role::User, text.clone())
        };
        let mut system = locrit.system_prompt();
        for addition in &system_additions {
            system.push_str("\n\n");
            system.push_str(addition);
        }
        let asker = recall::Asker {
            caller,
            user_id: user_id.as_deref(),
            session: &session,
        };
        // The user's message is committed while the prompt is made and the model asked:
        // the commit's fsync overlaps recall's embedding round trip and the model's
        // start. Nothing of the reply is read, shown or stored until the message is
        // committed; if the commit fails, the model's answer is dropped unread.
        let answering = async {
            let backend = self.chat_backend(&url).await?;
            let context = self
                .context_length(&*backend, &url, &locrit.ollama_model)
                .await;
            let budget = prompt::history_budget(context);
            let (history, recalled) = tokio::join!(
                self.history(&session, budget, turn_id),
                self.recall(&locrit, asker, &text, prompt::window(context)),
            );
            let history = history?;
            let prompt = prompt::build(
                prompt::PromptParts {
                    system,
                    recalled: recalled.text.iter().cloned().collect(),
                    history: &history.messages,
                    current: &text,
                },
                context,
            );
            let chat_request = ChatRequest {
                model: locrit.ollama_model.clone(),
                messages: prompt.messages,
                options: ChatOptions {
                    num_ctx: Some(prompt.num_ctx),
                    ..ChatOptions::default()
                },
                format: None,
            };
            let stream = backend.chat(chat_request).await?;
            Ok::<_, Error>((stream, prompt.dropped, recalled, (history, budget)))
        };
        // Stored leased to this server until its reply begins: if the server stops
        // before, any server marks it unanswered. Once stored, its lease is renewed
        // while the model is still starting (a model server slow to embed or to load).
        let (question, answered) = {
            let storing =
                self.store
                    .append_question(session.id, &new_message, runner::lease_from_now());
            let (mut storing, mut answering) = (std::pin::pin!(storing), std::pin::pin!(answering));
            let mut answered = None;
            let question = loop {
                tokio::select! {
                    stored = &mut storing => break stored?,
                    done = &mut answering, if answered.is_none() => answered = Some(done),
                }
            };
            let answered = match answered {
                Some(answered) => answered,
                None => runner::while_waiting(&*self.store, &question.message, answering).await,
            };
            (question, answered)
        };
        let user_message = question.message.clone();
        let (stream, dropped_history, recalled, (history, budget)) = match answered {
            Ok(answered) => answered,
            Err(error) => {
                tracing::warn!(locrit = %locrit.name, %error, "the turn did not start; the user's message is kept");
                runner::mark_unanswered(&*self.store, &user_message, &error.to_string()).await;
                return Err(error);
            }
        };

        let log = Arc::new(TurnLog::new(turn_id, locrit.id, session.key.clone()));
        let cancel = CancellationToken::new();
        self.chat.turns.lock().expect("turns").insert(
            turn_id,
            ActiveTurn {
                log: log.clone(),
                cancel: cancel.clone(),
                session_id: session.id,
                mirror: None,
            },
        );
        self.events
            .publish(Event::MessageStored(user_message.clone()));
        self.events.publish(Event::TurnStarted {
            locrit_id: locrit.id,
            session_key: session.key.clone(),
            log: log.clone(),
        });
        let run = runner::Run {
            core: self.clone(),
            locrit: locrit.clone(),
            events: self.events.clone(),
            store: self.store.clone(),
            log: log.clone(),
            session_id: session.id,
            model: locrit.ollama_model.clone(),
            question,
            history: Some((history, budget)),
            dropped_history,
            recalled: recalled.metadata(),
        };
        let core = self.clone();
        tokio::spawn(async move {
            run.run(stream, cancel).await;
            drop(lock);
            core.chat.finished(turn_id);
        });
        Ok(Turn {
            id: turn_id,
            locrit,
            session,
            user_message,
            log,
        })
    }

    /// Stops a running turn; what was generated is stored as `cancelled`. False when no
    /// such turn is running.
    pub fn cancel_turn(&self, turn_id: Uuid) -> bool {
        let turns = self.chat.turns.lock().expect("turns");
        match turns.get(&turn_id) {
            Some(turn) if !turn.log.is_finished() => {
                turn.cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// The log of a turn, running or recently finished.
    pub fn turn_log(&self, turn_id: Uuid) -> Option<Arc<TurnLog>> {
        self.chat
            .turns
            .lock()
            .expect("turns")
            .get(&turn_id)
            .map(|t| t.log.clone())
    }

    /// The turn running in a session, if any, for a client that joins mid-stream.
    pub fn running_turn(&self, session_id: Uuid) -> Option<Arc<TurnLog>> {
        let turns = self.chat.turns.lock().expect("turns");
        turns
            .values()
            .find(|t| t.session_id == session_id && !t.log.is_finished())
            .map(|t| t.log.clone())
    }

    /// The session's newest messages as far as `budget` tokens can hold, from the copy
    /// kept since its last turn if nothing changed it since, from the store otherwise.
    async fn history(
        &self,
        session: &Session,
        budget: u32,
        turn_id: Uuid,
    ) -> Result<history::History> {
        if let Some(kept) = self.chat.histories.take(session, budget) {
            return Ok(kept);
        }
        let read = history::History::read(&*self.store, session, budget).await?;
        Ok(read.without_turn(&json!(turn_id)))
    }

    async fn turn_session(&self, locrit: &Locrit, target: SessionTarget) -> Result<Session> {
        let session = match target {
            SessionTarget::Open(spec) => {
                self.store.open_session(&spec.for_locrit(locrit.id)).await?
            }
            SessionTarget::Existing { kind, key } => self
                .store
                .session(locrit.id, &key)
                .await?
                .filter(|s| kind.is_none_or(|kind| s.kind == kind))
                .ok_or(Error::NotFound("session"))?,
        };
        if session.status == SessionStatus::Deleted {
            return Err(Error::NotFound("session"));
        }
        Ok(session)
    }

    /// The model's context window, asked once per few minutes. Unknown on failure: the
    /// chat call that follows reports an unreachable server better.
    async fn context_length(
        &self,
        backend: &dyn LlmBackend,
        url: &str,
        model: &str,
    ) -> Option<u32> {
        let key = (url.to_owned(), model.to_owned());
        let cached = self
            .chat
            .context_lengths
            .lock()
            .expect("context cache")
            .get(&key)
            .copied();
        if let Some((length, _)) = cached.filter(|(_, at)| at.elapsed() < CONTEXT_CACHE_TTL) {
            return length;
        }
        match backend.context_length(model).await {
            Ok(length) => {
                self.chat
                    .context_lengths
                    .lock()
                    .expect("context cache")
                    .insert(key, (length, Instant::now()));
                length
            }
            Err(error) => {
                tracing::debug!(%error, "context length unknown");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_turns_are_kept_up_to_the_cap_oldest_forgotten_first() {
        let state = ChatState::default();
        let ids: Vec<Uuid> = (0..FINISHED_TURN_CAP + 10)
            .map(|_| Uuid::now_v7())
            .collect();
        for id in &ids {
            let log = Arc::new(TurnLog::new(*id, Uuid::nil(), "s".into()));
            let turn = ActiveTurn {
                log,
                cancel: CancellationToken::new(),
                session_id: Uuid::nil(),
                mirror: None,
            };
            state.turns.lock().unwrap().insert(*id, turn);
            state.finished(*id);
        }
        let turns = state.turns.lock().unwrap();
        assert_eq!(turns.len(), FINISHED_TURN_CAP);
        assert!(
            ids[..10].iter().all(|id| !turns.contains_key(id)),
            "the oldest are forgotten"
        );
        assert!(ids[10..].iter().all(|id| turns.contains_key(id)));
        assert_eq!(state.finished.lock().unwrap().len(), FINISHED_TURN_CAP);
    }
}
