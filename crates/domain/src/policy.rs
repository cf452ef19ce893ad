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
}
