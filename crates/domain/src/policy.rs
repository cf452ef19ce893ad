//! Who may chat with a Locrit. Every transport asks here; none decides on its own.

use crate::Locrit;

/// The kind of party on the other end of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The Locrit's owner (in local trust mode, anyone on this machine).
    Owner,
    /// A person using the Locrit through a human-facing client (Socket.IO, v1 human).
    Human,
    /// Another Locrit.
    Locrit,
    /// An anonymous visitor of the public page.
    Visitor,
}

/// Why a caller may not chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Inactive,
    NotOpenToHumans,
    NotOpenToLocrits,
    NotPublic,
}

/// Whether `caller` may chat with `locrit` now. An inactive Locrit talks to no one; the
/// owner needs nothing else; others need the matching `open_to` flag.
pub fn may_chat(locrit: &Locrit, caller: Caller) -> Result<(), Denied> {
    if !locrit.active {
        return Err(Denied::Inactive);
    }
    let open = match caller {
        Caller::Owner => true,
        Caller::Human => locrit.open_to.humans,
        Caller::Locrit => locrit.open_to.locrits,
        Caller::Visitor => locrit.open_to.internet,
    };
    if open {
        Ok(())
    } else {
        Err(match caller {
            Caller::Locrit => Denied::NotOpenToLocrits,
            Caller::Visitor => Denied::NotPublic,
            _ => Denied::NotOpenToHumans,
        })
    }
}

/// What a turn may bring back from beyond its own session, for this caller: recall
/// never shows a caller what they could not read themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecallScope {
    /// The Locrit's long-term memories (facts about everyone it talks to).
    pub memories: bool,
    pub other_sessions: OtherSessions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherSessions {
    None,
    /// Only the caller's own other sessions (same `user_id`).
    SameUser,
    All,
}

/// The owner recalls everything. A person recalls their own other conversations, and the
/// memories only where the owner opened the full memory (`access_to.full_memory`);
/// another Locrit or an anonymous visitor, the memories under the same condition and no
/// other conversation.
pub fn recall_scope(locrit: &Locrit, caller: Caller) -> RecallScope {
    let shared = locrit.access_to.full_memory;
    match caller {
        Caller::Owner => RecallScope {
            memories: true,
            other_sessions: OtherSessions::All,
        },
        Caller::Human => RecallScope {
            memories: shared,
            other_sessions: OtherSessions::SameUser,
        },
        Caller::Locrit | Caller::Visitor => RecallScope {
            memories: shared,
            other_sessions: OtherSessions::None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewLocrit, OpenTo};

    fn locrit(active: bool, open_to: OpenTo) -> Locrit {
        let mut l = NewLocrit {
            name: "Bob".into(),
            ollama_model: "m".into(),
            ..Default::default()
        }
        .into_locrit("http://h:1")
        .unwrap();
        l.active = active;
        l.open_to = open_to;
        l
    }

    #[test]
    fn the_gate_table() {
        let closed = OpenTo::default();
        let humans = OpenTo {
            humans: true,
            ..closed
        };
        let locrits = OpenTo {
            locrits: true,
            ..closed
        };
        let internet = OpenTo {
            internet: true,
            ..closed
        };
        let cases = [
            (false, humans, Caller::Owner, Err(Denied::Inactive)),
            (false, humans, Caller::Human, Err(Denied::Inactive)),
            (true, closed, Caller::Owner, Ok(())),
            (true, closed, Caller::Human, Err(Denied::NotOpenToHumans)),
            (true, humans, Caller::Human, Ok(())),
            (true, humans, Caller::Locrit, Err(Denied::NotOpenToLocrits)),
            (true, locrits, Caller::Locrit, Ok(())),
            (true, humans, Caller::Visitor, Err(Denied::NotPublic)),
            (true, internet, Caller::Visitor, Ok(())),
        ];
        for (active, open_to, caller, expected) in cases {
            assert_eq!(
                may_chat(&locrit(active, open_to), caller),
                expected,
                "{active} {open_to:?} {caller:?}"
            );
        }
    }

    #[test]
    fn the_recall_table() {
        let mut private = locrit(true, OpenTo::default());
        let mut shared = private.clone();
        shared.access_to.full_memory = true;
        private.access_to.full_memory = false;
        use OtherSessions::*;
        let cases = [
            (&private, Caller::Owner, true, All),
            (&private, Caller::Human, false, SameUser),
            (&shared, Caller::Human, true, SameUser),
            (&private, Caller::Locrit, false, None),
            (&shared, Caller::Locrit, true, None),
            (&private, Caller::Visitor, false, None),
            (&shared, Caller::Visitor, true, None),
        ];
        for (locrit, caller, memories, other_sessions) in cases {
            let expected = RecallScope {
                memories,
                other_sessions,
            };
            assert_eq!(recall_scope(locrit, caller), expected, "{caller:?}");
        }
    }
}
