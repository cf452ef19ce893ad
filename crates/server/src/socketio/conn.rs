//! What the server remembers about one socket: the chat rooms it joined, the turns it
//! follows (so no turn reaches it twice), the Locrits whose memory it watches.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use uuid::Uuid;

/// Finished turns remembered per socket, so a late announcement does not replay one.
const RECENT_TURNS: usize = 64;

#[derive(Default)]
pub(super) struct Conn {
    rooms: Mutex<Rooms>,
    turns: Mutex<Turns>,
    /// Locrit id → the name the client used to watch it (echoed in every event).
    watching: Mutex<HashMap<Uuid, String>>,
    /// A `memory_updated` could not be delivered: a `resync` is owed.
    memory_lagged: AtomicBool,
}

/// The chat rooms joined (`chat_<name>_<session>`, the contract's), and for each the
/// internal room of the same session by Locrit id (`turns_<id>_<session>`), which the
/// hub finds a turn's sockets by without reading the Locrit's name from the store.
#[derive(Default)]
struct Rooms {
    chat: HashMap<String, Option<String>>,
    /// Internal room → the Locrit name the client joined with.
    names: HashMap<String, String>,
}

#[derive(Default)]
struct Turns {
    following: HashMap<Uuid, Arc<Following>>,
    recent: VecDeque<Uuid>,
}

/// One turn this socket follows. `sender` is set when the socket sent the message: its
/// terminal event is then the one its request asked for.
#[derive(Default)]
pub(super) struct Following {
    pub sender: OnceLock<Sender>,
}

impl Following {
    /// Whether chunks go to this socket: not to a sender that asked for one reply.
    pub fn streams(&self) -> bool {
        self.sender.get().is_none_or(|s| s.reply == Reply::Stream)
    }
}

/// The socket that sent the turn's message, and what it asked for.
#[derive(Debug, Clone)]
pub(super) struct Sender {
    pub reply: Reply,
    pub user_message_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// `chat_chunk`s, then `chat_complete`.
    Stream,
    /// Session mode with `stream: false`: one `chat_response`.
    Response,
    /// Conversation mode: one `chat_response` with the conversation's fields.
    Conversation,
}

impl Conn {
    pub fn join(&self, room: &str) {
        let mut rooms = self.rooms.lock().expect("rooms");
        rooms.chat.entry(room.to_owned()).or_default();
    }

    /// Links a joined chat room to its internal room, under the name the client used.
    pub fn link(&self, room: &str, turns_room: &str, name: &str) {
        let mut rooms = self.rooms.lock().expect("rooms");
        if let Some(linked) = rooms.chat.get_mut(room) {
            *linked = Some(turns_room.to_owned());
            rooms.names.insert(turns_room.to_owned(), name.to_owned());
        }
    }

    /// Leaves a chat room; its internal room, to leave too.
    pub fn leave(&self, room: &str) -> Option<String> {
        let mut rooms = self.rooms.lock().expect("rooms");
        let turns_room = rooms.chat.remove(room)??;
        rooms.names.remove(&turns_room);
        Some(turns_room)
    }

    pub fn in_room(&self, room: &str) -> bool {
        self.rooms.lock().expect("rooms").chat.contains_key(room)
    }

    /// The Locrit name a client joined an internal room with.
    pub fn joined_as(&self, turns_room: &str) -> Option<String> {
        let rooms = self.rooms.lock().expect("rooms");
        rooms.names.get(turns_room).cloned()
    }

    /// Starts following a turn as a room member; `None` if this socket already follows
    /// it or has followed it.
    pub fn follow(&self, turn_id: Uuid) -> Option<Arc<Following>> {
        let mut turns = self.turns.lock().expect("turns");
        if turns.following.contains_key(&turn_id) || turns.recent.contains(&turn_id) {
            return None;
        }
        let following = Arc::new(Following::default());
        turns.following.insert(turn_id, following.clone());
        Some(following)
    }

    /// Follows a turn this socket sent. If it already follows it as a room member, that
    /// follower takes the sender's wishes and `None` is returned. A sender always gets
    /// its terminal event: a follower that already finished does not count.
    pub fn follow_as_sender(&self, turn_id: Uuid, sender: Sender) -> Option<Arc<Following>> {
        let mut turns = self.turns.lock().expect("turns");
        if let Some(existing) = turns.following.get(&turn_id) {
            let _ = existing.sender.set(sender);
            return None;
        }
        let following = Arc::new(Following::default());
        let _ = following.sender.set(sender);
        turns.following.insert(turn_id, following.clone());
        Some(following)
    }

    /// The follower of a turn is done.
    pub fn done(&self, turn_id: Uuid) {
        let mut turns = self.turns.lock().expect("turns");
        turns.following.remove(&turn_id);
        if turns.recent.len() == RECENT_TURNS {
            turns.recent.pop_front();
        }
        turns.recent.push_back(turn_id);
    }

    pub fn watch(&self, locrit_id: Uuid, name: &str) {
        self.watching
            .lock()
            .expect("watching")
            .insert(locrit_id, name.to_owned());
    }

    /// Stops watching the Locrit watched under this name; its id if it was.
    pub fn unwatch(&self, name: &str) -> Option<Uuid> {
        let mut watching = self.watching.lock().expect("watching");
        let id = watching
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)?;
        watching.remove(&id);
        Some(id)
    }

    /// The name this socket watches a Locrit under, if it does.
    pub fn watched_name(&self, locrit_id: Uuid) -> Option<String> {
        self.watching
            .lock()
            .expect("watching")
            .get(&locrit_id)
            .cloned()
    }

    /// Every Locrit this socket watches, with the name it used.
    pub fn watched(&self) -> Vec<(Uuid, String)> {
        let watching = self.watching.lock().expect("watching");
        watching.iter().map(|(id, n)| (*id, n.clone())).collect()
    }

    /// Marks a memory event as lost; true if it was not marked yet.
    pub fn mark_memory_lagged(&self) -> bool {
        !self.memory_lagged.swap(true, Ordering::SeqCst)
    }

    pub fn clear_memory_lagged(&self) {
        self.memory_lagged.store(false, Ordering::SeqCst);
    }

    pub fn memory_lagged(&self) -> bool {
        self.memory_lagged.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(reply: Reply) -> Sender {
        Sender {
            reply,
            user_message_id: Uuid::nil(),
        }
    }

    #[test]
    fn a_turn_is_followed_once_even_after_it_is_done() {
        let conn = Conn::default();
        let turn = Uuid::now_v7();
        assert!(conn.follow(turn).is_some());
        assert!(conn.follow(turn).is_none());
        conn.done(turn);
        assert!(
            conn.follow(turn).is_none(),
            "a late announcement is ignored"
        );
    }

    #[test]
    fn a_sender_already_following_as_member_keeps_one_follower_with_its_wishes() {
        let conn = Conn::default();
        let turn = Uuid::now_v7();
        let member = conn.follow(turn).unwrap();
        assert!(member.streams());
        assert!(
            conn.follow_as_sender(turn, sender(Reply::Conversation))
                .is_none()
        );
        assert!(!member.streams(), "the sender asked for one reply");
    }
}
