//! Locrit's domain types and the rules that hold whatever the transport or the store.
//!
//! Nothing here does I/O: the store persists these types, the chat engine and the HTTP
//! surfaces read and produce them.

mod account;
mod dialogue;
mod error;
mod ids;
mod job;
mod locrit;
mod memory;
mod policy;
mod public;
mod session;
mod time;

pub use account::{
    Account, AccountRole, ApiKey, Invitation, KeyScopes, MIN_PASSWORD_CHARS, Scope,
    validate_password, validate_username,
};
pub use dialogue::{
    Budget, Contact, Dialogue, DialogueStatus, END_MARKER, Ending, MAX_DIALOGUE_TURNS, Partner,
    Side, validate_server_url,
};
pub use error::ValidationError;
pub use ids::{MAX_ID_BYTES, validate_client_id};
pub use job::{Job, JobStatus, NewJob};
pub use locrit::{
    AccessTo, DEFAULT_PERSONA, EMBEDDED_ENGINE, Locrit, LocritPatch, MemoryService, NewLocrit,
    OpenTo, PublicPage, validate_locrit_name,
};
pub use memory::{Concept, Memory, NewMemory};
pub use policy::{
    Caller, Denied, KeyGrant, OtherSessions, Reading, RecallScope, Requester, may_chat, may_manage,
    may_read, recall_scope,
};
pub use public::{
    DEFAULT_AVATAR, DEFAULT_VISITOR_NAME, MAX_VISITOR_NAME_CHARS, VisitorId, visitor_name,
    visitor_prompt_line,
};
pub use session::{
    Message, MessageStatus, NewMessage, NewSession, Role, Session, SessionKind, SessionStatus,
};
pub use time::{now, parse_timestamp};
