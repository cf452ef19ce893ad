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
