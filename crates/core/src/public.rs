//! Public pages: the directory of Locrits open to the internet, their profiles, their
//! page settings, and the sessions of anonymous visitors (one per visitor and Locrit,
//! keyed by the visitor's random id, kept like every other session).

use locrit_domain::{
    Caller, Locrit, LocritPatch, Message, PublicPage, SessionKind, VisitorId, may_chat,
    visitor_prompt_line,
};
use locrit_store::MessagePage;
use serde_json::json;

use crate::chat::{SessionTarget, TurnRequest};
use crate::{Core, Error, NewSessionSpec, Result};

impl Core {
    /// The public directory: active Locrits open to the internet, by name.
    pub async fn public_locrits(&self) -> Result<Vec<Locrit>> {
        let mut locrits = self.locrits().await?;
        locrits.retain(|locrit| may_chat(locrit, Caller::Visitor).is_ok());
        Ok(locrits)
    }

    /// The Locrit named `name`, if a visitor may see it, and what the visitor is to it:
    /// invited, with a valid invitation to it (`open_to.invitations` then opens it),
    /// else an anonymous visitor (`open_to.internet`). `NotFound`, `Inactive`, or
    /// `Denied` otherwise.
    pub async fn public_locrit(
        &self,
        name: &str,
        invitation: Option<&str>,
    ) -> Result<(Locrit, Caller)> {
        let locrit = self.locrit_named(name).await?;
        let invited = match invitation {
            Some(token) => self.invitation(&locrit, token).await?.is_some(),
            None => false,
        };
        let caller = if invited {
            Caller::Invited
        } else {
            Caller::Visitor
        };
        may_chat(&locrit, caller)?;
        Ok((locrit, caller))
    }

    /// Replaces the Locrit's public page with `page`, every missing key taking its
    /// default (not its previous value), and saves it.
    pub async fn set_public_page(&self, locrit: Locrit, page: PublicPage) -> Result<Locrit> {
        let page = page.rebuilt_for(&locrit);
        let patch = LocritPatch {
            public_page: Some(Some(page)),
            ..LocritPatch::default()
        };
        self.update_locrit(locrit, patch).await
    }

    /// The last `limit` messages of the visitor's own session with this Locrit, oldest
    /// first; none when the visitor has not written yet.
    pub async fn visitor_history(
        &self,
        locrit: &Locrit,
        visitor: VisitorId,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let session = match self.session(locrit, &visitor.session_key()).await {
            Ok(session) => session,
            Err(Error::NotFound(_)) => return Ok(Vec::new()),
            Err(other) => return Err(other),
        };
        let page = MessagePage::Before {
            before: None,
            limit,
        };
        self.messages(&session, page).await
    }
}

/// A visitor's turn in their own session with `locrit` (opened on the first message),
/// told to the model by the visitor line of the system prompt.
pub fn visitor_turn(
    locrit: Locrit,
    caller: Caller,
    visitor: VisitorId,
    visitor_name: &str,
    text: String,
) -> TurnRequest {
    TurnRequest {
        session: SessionTarget::Open(NewSessionSpec {
            key: visitor.session_key(),
            kind: SessionKind::Chat,
            name: None,
            user_id: Some(visitor.user_id()),
            metadata: json!({"source": "public", "visitor_name": visitor_name}),
        }),
        locrit,
        caller,
        text,
        user_id: Some(visitor.user_id()),
        system_additions: vec![visitor_prompt_line(visitor_name)],
    }
}

/// A fixed window's count of hits of one key, shared by every server of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedHits {
    pub hits: u32,
    /// Until the window ends and the count starts again.
    pub window_left: std::time::Duration,
}

impl Core {
    /// Counts a hit of `key` in the current window of `per` (windows start at whole
    /// multiples of `per` since the epoch), across every server sharing this store;
    /// `None` when the store is not shared (one server counts in memory).
    pub async fn count_shared_hit(
        &self,
        key: &str,
        per: std::time::Duration,
    ) -> Result<Option<SharedHits>> {
        if self.store.peers().is_none() {
            return Ok(None);
        }
        let now = chrono::Utc::now();
        let per_ms = i64::try_from(per.as_millis()).unwrap_or(i64::MAX).max(1);
        let now_ms = now.timestamp_millis();
        let start_ms = now_ms - now_ms.rem_euclid(per_ms);
        let window_start = chrono::DateTime::from_timestamp_millis(start_ms).unwrap_or(now);
        // Rows of finished windows go; an hour at least, for the keys of longer limits.
        let forget_before = window_start - chrono::Duration::milliseconds(per_ms.max(3_600_000));
        let hits = self
            .store
            .count_rate_hit(key, window_start, forget_before)
            .await?;
        let left = u64::try_from(start_ms + per_ms - now_ms).unwrap_or(0);
        Ok(Some(SharedHits {
            hits: u32::try_from(hits).unwrap_or(u32::MAX),
            window_left: std::time::Duration::from_millis(left),
        }))
    }
}
