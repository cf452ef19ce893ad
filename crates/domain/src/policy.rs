//! Who may do what with a Locrit. Every transport asks here; none decides on its own.
//! The table these functions implement is in `docs/ACCESS.md`.

use uuid::Uuid;

use crate::{Account, AccountRole, KeyScopes, Locrit, Scope};

/// The kind of party on the other end, as one Locrit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The Locrit's owner, an admin, or (local trust mode) anyone on this machine.
    Owner,
    /// A signed-in person who does not own the Locrit.
    Human,
    /// A person holding an invitation to this Locrit.
    Invited,
    /// Another Locrit.
    Locrit,
    /// An anonymous visitor.
    Visitor,
}

/// Who sent a request, once its credentials are checked: resolved once per request.
#[derive(Debug, Clone, PartialEq)]
pub enum Requester {
    /// Local trust mode: a request from this machine to a server only it can reach,
    /// acting as an admin.
    Local,
    /// A signed-in account, through its login session or one of its API keys.
    Account {
        account: Account,
        key: Option<KeyGrant>,
    },
    Anonymous,
}

/// What an API key grants, checked on top of what its account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGrant {
    pub id: Uuid,
    pub scopes: KeyScopes,
    /// Only this Locrit, when set.
    pub locrit_id: Option<Uuid>,
}

impl Requester {
    /// Whether this requester administers the server: every Locrit, every account.
    pub fn is_admin(&self) -> bool {
        match self {
            Self::Local => true,
            Self::Account { account, key } => {
                account.role == AccountRole::Admin && key.is_none_or(|k| k.locrit_id.is_none())
            }
            Self::Anonymous => false,
        }
    }

    /// Whether its API key, if it came with one, has `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        match self {
            Self::Account { key: Some(key), .. } => key.scopes.allows(scope),
            _ => true,
        }
    }

    pub fn account(&self) -> Option<&Account> {
        match self {
            Self::Account { account, .. } => Some(account),
            _ => None,
        }
    }

    /// What this requester is to `locrit`. A key bound to another Locrit makes its
    /// holder a mere visitor there.
    pub fn caller_for(&self, locrit: &Locrit) -> Caller {
        match self {
            Self::Local => Caller::Owner,
            Self::Account { account, key } => {
                if key.is_some_and(|k| k.locrit_id.is_some_and(|id| id != locrit.id)) {
                    Caller::Visitor
                } else if account.role == AccountRole::Admin
                    || account.owns(locrit.owner_id.as_deref())
                {
                    Caller::Owner
                } else {
                    Caller::Human
                }
            }
            Self::Anonymous => Caller::Visitor,
        }
    }

    /// The `user_id` this requester's conversations are stored under, when the server
    /// decides it (a client may name its own only as the owner).
    pub fn user_id(&self) -> Option<String> {
        self.account().map(|account| format!("user:{}", account.id))
    }
}

/// Why a caller may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Inactive,
    NotOpenToHumans,
    NotOpenToLocrits,
    NotOpenToInvitations,
    NotPublic,
    /// The owner has not shared this part (`access_to`).
    NotShared(Reading),
    /// Only the owner (or an admin) may do this.
    OwnerOnly,
}

/// Whether `caller` may chat with `locrit` now. An inactive Locrit talks to no one; the
/// owner needs nothing else; others need the matching `open_to` flag.
pub fn may_chat(locrit: &Locrit, caller: Caller) -> Result<(), Denied> {
    if !locrit.active {
        return Err(Denied::Inactive);
    }
    let (open, denied) = match caller {
        Caller::Owner => (true, Denied::OwnerOnly),
        Caller::Human => (locrit.open_to.humans, Denied::NotOpenToHumans),
        Caller::Invited => (locrit.open_to.invitations, Denied::NotOpenToInvitations),
        Caller::Locrit => (locrit.open_to.locrits, Denied::NotOpenToLocrits),
        Caller::Visitor => (locrit.open_to.internet, Denied::NotPublic),
    };
    if open { Ok(()) } else { Err(denied) }
}

/// What a caller may read besides the replies to its own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The transcripts of the caller's own conversations (`access_to.logs`).
    Logs,
    /// Memory search (capped) and counters (`access_to.quick_memory`, or full).
    QuickMemory,
    /// Everything the Locrit remembers, read-only (`access_to.full_memory`).
    FullMemory,
    /// Which model and engine the Locrit runs on (`access_to.llm_info`).
    LlmInfo,
}

/// Whether `caller` may read `what` of `locrit`: the owner always; anyone else only
/// if they may chat with it and the owner shared that part.
pub fn may_read(locrit: &Locrit, caller: Caller, what: Reading) -> Result<(), Denied> {
    if caller == Caller::Owner {
        return Ok(());
    }
    may_chat(locrit, caller)?;
    let access = &locrit.access_to;
    let shared = match what {
        Reading::Logs => access.logs,
        Reading::QuickMemory => access.quick_memory || access.full_memory,
        Reading::FullMemory => access.full_memory,
        Reading::LlmInfo => access.llm_info,
    };
    if shared {
        Ok(())
    } else {
        Err(Denied::NotShared(what))
    }
}

/// Whether `caller` may change `locrit`: its settings, memory, sessions, invitations.
pub fn may_manage(caller: Caller) -> Result<(), Denied> {
    if caller == Caller::Owner {
        Ok(())
    } else {
        Err(Denied::OwnerOnly)
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
        Caller::Human | Caller::Invited => RecallScope {
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
    use crate::{AccessTo, NewLocrit, OpenTo};

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
        let invitations = OpenTo {
            invitations: true,
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
            (
                true,
                humans,
                Caller::Invited,
                Err(Denied::NotOpenToInvitations),
            ),
            (true, invitations, Caller::Invited, Ok(())),
            (true, invitations, Caller::Visitor, Err(Denied::NotPublic)),
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
    fn the_reading_table() {
        use Reading::*;
        let mut shared = locrit(true, OpenTo::default());
        shared.open_to.humans = true;
        shared.open_to.internet = true;
        shared.access_to = AccessTo {
            logs: true,
            quick_memory: true,
            full_memory: true,
            llm_info: true,
        };
        let mut private = shared.clone();
        private.access_to = AccessTo {
            logs: false,
            quick_memory: false,
            full_memory: false,
            llm_info: false,
        };
        let mut quick_only = private.clone();
        quick_only.access_to.quick_memory = true;
        let mut shut = shared.clone();
        shut.open_to.humans = false;
        let cases = [
            (&private, Caller::Owner, FullMemory, Ok(())),
            (&private, Caller::Owner, Logs, Ok(())),
            (&private, Caller::Human, Logs, Err(Denied::NotShared(Logs))),
            (&shared, Caller::Human, Logs, Ok(())),
            (
                &private,
                Caller::Visitor,
                LlmInfo,
                Err(Denied::NotShared(LlmInfo)),
            ),
            (&shared, Caller::Visitor, LlmInfo, Ok(())),
            (&quick_only, Caller::Human, QuickMemory, Ok(())),
            (
                &quick_only,
                Caller::Human,
                FullMemory,
                Err(Denied::NotShared(FullMemory)),
            ),
            (&shared, Caller::Human, FullMemory, Ok(())),
            // Reading needs being let in at all.
            (&shut, Caller::Human, Logs, Err(Denied::NotOpenToHumans)),
            (
                &shared,
                Caller::Locrit,
                QuickMemory,
                Err(Denied::NotOpenToLocrits),
            ),
        ];
        for (locrit, caller, what, expected) in cases {
            assert_eq!(
                may_read(locrit, caller, what),
                expected,
                "{caller:?} {what:?}"
            );
        }
        assert_eq!(may_manage(Caller::Owner), Ok(()));
        for caller in [
            Caller::Human,
            Caller::Invited,
            Caller::Locrit,
            Caller::Visitor,
        ] {
            assert_eq!(may_manage(caller), Err(Denied::OwnerOnly));
        }
    }

    #[test]
    fn what_a_requester_is_to_a_locrit() {
        let account = |role| Account {
            id: Uuid::new_v4(),
            username: "ada".into(),
            role,
            created_at: chrono::Utc::now(),
        };
        let user = account(AccountRole::User);
        let admin = account(AccountRole::Admin);
        let mut owned = locrit(true, OpenTo::default());
        owned.owner_id = Some(user.id.to_string());
        let unowned = locrit(true, OpenTo::default());
        let key = |locrit_id| {
            Some(KeyGrant {
                id: Uuid::nil(),
                scopes: KeyScopes::ALL,
                locrit_id,
            })
        };
        let signed_in = |account: &Account, key| Requester::Account {
            account: account.clone(),
            key,
        };
        let cases = [
            (Requester::Local, &unowned, Caller::Owner),
            (Requester::Anonymous, &owned, Caller::Visitor),
            (signed_in(&user, None), &owned, Caller::Owner),
            (signed_in(&user, None), &unowned, Caller::Human),
            (signed_in(&admin, None), &owned, Caller::Owner),
            (signed_in(&user, key(Some(owned.id))), &owned, Caller::Owner),
            (
                signed_in(&user, key(Some(Uuid::new_v4()))),
                &owned,
                Caller::Visitor,
            ),
        ];
        for (requester, locrit, expected) in cases {
            assert_eq!(requester.caller_for(locrit), expected, "{requester:?}");
        }
        assert!(Requester::Local.is_admin());
        assert!(signed_in(&admin, None).is_admin());
        assert!(!signed_in(&admin, key(Some(owned.id))).is_admin());
        assert!(!signed_in(&user, None).is_admin());
        assert!(!Requester::Anonymous.is_admin());
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
