//! Turns running on another server that shares this store, mirrored here so that this
//! server's clients follow them as they follow their own (see `crate::cluster`).

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ActiveTurn, TurnEnd, TurnLog};
use crate::Core;
use crate::events::Event;

/// A mirrored turn not heard of for this long lost its server: the server running a
/// turn says it is alive more often than this, even while the model is silent.
pub(crate) const MIRROR_SILENCE: std::time::Duration = std::time::Duration::from_secs(10);

impl Core {
    /// Starts mirroring a turn of another server; the returned token is cancelled when
    /// one of this server's clients asks to stop it.
    pub(crate) fn mirror_turn(
        &self,
        turn_id: Uuid,
        locrit_id: Uuid,
        session_id: Uuid,
        session_key: String,
    ) -> CancellationToken {
        let log = Arc::new(TurnLog::new(turn_id, locrit_id, session_key.clone()));
        let cancel = CancellationToken::new();
        let turn = ActiveTurn {
            log: log.clone(),
            cancel: cancel.clone(),
            session_id,
            mirror: Some(std::sync::Mutex::new(Instant::now())),
        };
        self.chat.turns.lock().expect("turns").insert(turn_id, turn);
        self.events.publish_from_peer(Event::TurnStarted {
            locrit_id,
            session_key,
            log,
        });
        cancel
    }

    /// Applies what the other server said of a mirrored turn: deltas from index `from`
    /// (those already here are skipped), that it is alive, or how it ended.
    pub(crate) fn mirror_heard(&self, turn_id: Uuid, from: usize, texts: Vec<String>) {
        let turns = self.chat.turns.lock().expect("turns");
        let Some(turn) = turns.get(&turn_id) else {
            return;
        };
        let Some(heard) = &turn.mirror else {
            return;
        };
        *heard.lock().expect("mirror") = Instant::now();
        let known = turn.log.len();
        for text in texts.into_iter().skip(known.saturating_sub(from)) {
            turn.log.push(text);
        }
    }

    pub(crate) fn mirror_ended(&self, turn_id: Uuid, end: TurnEnd) {
        let log = {
            let turns = self.chat.turns.lock().expect("turns");
            match turns.get(&turn_id) {
                Some(turn) if turn.mirror.is_some() && !turn.log.is_finished() => turn.log.clone(),
                _ => return,
            }
        };
        log.end(end);
        self.chat.finished(turn_id);
    }

    /// Stops a turn running on this server (asked by a client of another server).
    pub(crate) fn cancel_own_turn(&self, turn_id: Uuid) {
        let own = self
            .chat
            .turns
            .lock()
            .expect("turns")
            .get(&turn_id)
            .is_some_and(|turn| turn.mirror.is_none());
        if own {
            self.cancel_turn(turn_id);
        }
    }

    /// The mirrored turns still running, and those whose server went silent.
    pub(crate) fn silent_mirrors(&self) -> Vec<Uuid> {
        let turns = self.chat.turns.lock().expect("turns");
        turns
            .iter()
            .filter(|(_, turn)| !turn.log.is_finished())
            .filter_map(|(id, turn)| {
                let heard = *turn.mirror.as_ref()?.lock().expect("mirror");
                (heard.elapsed() > MIRROR_SILENCE).then_some(*id)
            })
            .collect()
    }
}
