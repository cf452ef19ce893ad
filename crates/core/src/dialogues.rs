//! Locrits talking to Locrits on their own. A dialogue is started by its initiator's
//! owner with a partner (a Locrit of this server, or a contact on another one), a topic
//! or an opening line, and a budget. Each reply is one background job
//! ([`DIALOGUE_TURN`]): the state is in the store between replies, so a dialogue
//! survives a restart, a scheduled one starts on time on whichever server claims it,
//! and pausing is simply not queueing the next reply.
//!
//! Each side speaks with its own model, persona and memory, through its own engine (a
//! local turn with the caller `Locrit`, gated by `open_to.locrits`; a remote one through
//! the peer's inter-Locrit API), and keeps its own transcript: the session
//! `dialogue_<id>` on this server, the peer's own session on the other.

use std::time::Duration;

use chrono::{DateTime, Utc};
use locrit_domain::{
    Budget, Caller, Contact, Dialogue, DialogueStatus, END_MARKER, Job, Locrit, NewJob, NewMessage,
    Partner, Requester, Role, SessionKind, Side, ValidationError, may_manage, now,
    validate_server_url,
};
use locrit_llm::{PeerClient, PeerMessage};
use serde_json::json;
use uuid::Uuid;

use crate::chat::{SessionTarget, TurnEnd, TurnRequest};
use crate::events::Event;
use crate::jobs::JobFailure;
use crate::{Core, Error, NewSessionSpec, Result};

/// One reply of a dialogue.
pub const DIALOGUE_TURN: &str = "dialogue_turn";
/// How long a remote Locrit may take to answer one message.
const PEER_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_TOPIC_CHARS: usize = 2000;

/// A remote Locrit to add to a Locrit's contacts.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub name: String,
    pub server_url: String,
    pub api_key: Option<String>,
}

/// Who the initiator talks with, as the person starting it names them.
#[derive(Debug, Clone)]
pub enum PartnerRef {
    /// A Locrit of this server, by name.
    Local(String),
    /// One of the initiator's contacts.
    Contact(Uuid),
}

#[derive(Debug, Clone)]
pub struct NewDialogue {
    pub partner: PartnerRef,
    pub topic: String,
    /// What the initiator says first; the initiator opens on the topic when absent.
    pub opening: Option<String>,
    pub budget: Budget,
    /// Not before this time; now when absent.
    pub start_at: Option<DateTime<Utc>>,
}

/// How many times a person's control is applied to a dialogue that keeps changing.
const CONTROL_ATTEMPTS: usize = 5;

/// What a person can do to a dialogue under way.
#[derive(Debug, Clone)]
pub enum DialogueControl {
    Pause,
    Resume,
    Stop,
    /// A word for the next reply.
    Steer(String),
}

/// The session of a dialogue, on each local side.
pub fn dialogue_session_key(id: Uuid) -> String {
    format!("dialogue_{id}")
}

impl Core {
    pub async fn add_contact(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        new: NewContact,
    ) -> Result<Contact> {
        may_manage(requester.caller_for(locrit))?;
        let name = new.name.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "the remote Locrit's name").into());
        }
        let contact = Contact {
            id: Uuid::now_v7(),
            locrit_id: locrit.id,
            name: name.to_owned(),
            server_url: validate_server_url(&new.server_url)?,
            api_key: new.api_key.filter(|key| !key.trim().is_empty()),
            created_at: now(),
        };
        self.store
            .insert_contact(&contact)
            .await
            .map_err(|error| match error {
                locrit_store::StoreError::Conflict(_) => {
                    Error::Conflict("this Locrit already has this contact".into())
                }
                other => other.into(),
            })?;
        Ok(contact)
    }

    pub async fn contacts(&self, requester: &Requester, locrit: &Locrit) -> Result<Vec<Contact>> {
        may_manage(requester.caller_for(locrit))?;
        Ok(self.store.contacts(locrit.id).await?)
    }

    pub async fn delete_contact(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        id: Uuid,
    ) -> Result<()> {
        may_manage(requester.caller_for(locrit))?;
        if self.store.delete_contact(locrit.id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("contact"))
        }
    }

    /// Starts (or schedules) a dialogue of `locrit` with a partner; its first reply is
    /// queued for its start time.
    pub async fn start_dialogue(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        new: NewDialogue,
    ) -> Result<Dialogue> {
        may_manage(requester.caller_for(locrit))?;
        let topic = new.topic.trim().to_owned();
        if topic.chars().count() > MAX_TOPIC_CHARS {
            return Err(ValidationError::new("topic", "at most 2000 characters").into());
        }
        let opening = new
            .opening
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty());
        if topic.is_empty() && opening.is_none() {
            return Err(ValidationError::new("topic", "give a topic or an opening line").into());
        }
        let partner = match new.partner {
            PartnerRef::Local(name) => {
                let partner = self.locrit_named(&name).await?;
                if partner.id == locrit.id {
                    return Err(
                        ValidationError::new("partner", "a Locrit talking to itself").into(),
                    );
                }
                Partner::Local {
                    locrit_id: partner.id,
                }
            }
            PartnerRef::Contact(id) => {
                let contact = self.store.contact(id).await?;
                match contact {
                    Some(contact) if contact.locrit_id == locrit.id => {
                        Partner::Remote { contact_id: id }
                    }
                    _ => return Err(Error::NotFound("contact")),
                }
            }
        };
        let now = now();
        let start_at = new.start_at.filter(|at| *at > now).unwrap_or(now);
        let (next_speaker, next_text) = match &opening {
            Some(opening) => (Side::Partner, opening.clone()),
            None => (Side::Initiator, String::new()),
        };
        let dialogue = Dialogue {
            id: Uuid::now_v7(),
            locrit_id: locrit.id,
            partner,
            topic,
            budget: new.budget.validate()?,
            status: if start_at > now {
                DialogueStatus::Scheduled
            } else {
                DialogueStatus::Running
            },
            stop_reason: None,
            start_at,
            started_at: None,
            ended_at: None,
            turns: 0,
            tokens: 0,
            next_speaker,
            next_text,
            steer: None,
            recent: Vec::new(),
            created_by: requester.account().map(|a| a.id),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_dialogue(&dialogue).await?;
        if let Some(opening) = &opening {
            // The initiator said it: it is in its transcript as its own words.
            let partner_name = self.partner_name(&dialogue).await?;
            self.record_heard(locrit, &dialogue, &partner_name, Role::Assistant, opening)
                .await?;
        }
        self.queue_dialogue_turn(&dialogue, Some(start_at)).await?;
        self.events
            .publish(Event::DialogueUpdated(dialogue.clone()));
        Ok(dialogue)
    }

    /// A dialogue, if `requester` may see it (the initiator's owner).
    pub async fn dialogue(&self, requester: &Requester, id: Uuid) -> Result<(Dialogue, Locrit)> {
        let dialogue = self
            .store
            .dialogue(id)
            .await?
            .ok_or(Error::NotFound("dialogue"))?;
        let locrit = self.locrit(dialogue.locrit_id).await?;
        may_manage(requester.caller_for(&locrit)).map_err(|_| Error::NotFound("dialogue"))?;
        Ok((dialogue, locrit))
    }

    /// The Locrit's dialogues, newest first.
    pub async fn dialogues(&self, requester: &Requester, locrit: &Locrit) -> Result<Vec<Dialogue>> {
        may_manage(requester.caller_for(locrit))?;
        Ok(self.store.dialogues(locrit.id).await?)
    }

    /// Pauses, resumes, stops or steers a dialogue. A person's control applies to the
    /// dialogue as it is: when a reply was recorded between reading and saving it, it is
    /// read again and applied again, rather than refused.
    pub async fn control_dialogue(
        &self,
        requester: &Requester,
        id: Uuid,
        control: DialogueControl,
    ) -> Result<Dialogue> {
        for _ in 0..CONTROL_ATTEMPTS {
            if let Some(dialogue) = self.try_control_dialogue(requester, id, &control).await? {
                return Ok(dialogue);
            }
        }
        Err(Error::Conflict(
            "the dialogue keeps changing; try again".into(),
        ))
    }

    /// One attempt of [`Core::control_dialogue`]: `None` when the dialogue changed
    /// between reading and saving it.
    async fn try_control_dialogue(
        &self,
        requester: &Requester,
        id: Uuid,
        control: &DialogueControl,
    ) -> Result<Option<Dialogue>> {
        let (mut dialogue, _) = self.dialogue(requester, id).await?;
        let was = dialogue.status;
        if was.is_final() {
            return Err(Error::Conflict(format!(
                "the dialogue is over ({})",
                was.as_str()
            )));
        }
        let mut queue = false;
        match control {
            DialogueControl::Pause => dialogue.status = DialogueStatus::Paused,
            DialogueControl::Resume if was == DialogueStatus::Paused => {
                dialogue.status = DialogueStatus::Running;
                queue = true;
            }
            DialogueControl::Resume => {
                return Err(Error::Conflict("the dialogue is not paused".into()));
            }
            DialogueControl::Stop => {
                dialogue.end(DialogueStatus::Stopped, "stopped by a person".into(), now());
            }
            DialogueControl::Steer(word) => {
                let word = word.trim();
                if word.is_empty() {
                    return Err(ValidationError::new("message", "must not be empty").into());
                }
                dialogue.steer = Some(word.to_owned());
            }
        }
        let read_at = dialogue.updated_at;
        dialogue.updated_at = now();
        if !self.store.save_dialogue(&dialogue, read_at).await? {
            return Ok(None);
        }
        if queue {
            self.queue_dialogue_turn(&dialogue, None).await?;
        }
        self.events
            .publish(Event::DialogueUpdated(dialogue.clone()));
        Ok(Some(dialogue))
    }

    async fn queue_dialogue_turn(
        &self,
        dialogue: &Dialogue,
        at: Option<DateTime<Utc>>,
    ) -> Result<Job> {
        self.enqueue_job(NewJob {
            kind: DIALOGUE_TURN.into(),
            locrit_id: Some(dialogue.locrit_id),
            payload: json!({"dialogue_id": dialogue.id, "turn": dialogue.turns}),
            max_attempts: 3,
            run_after: at,
        })
        .await
    }

    /// The job: one reply of the dialogue, unless it is paused, over, or this reply was
    /// already given (a job run twice).
    pub(crate) async fn dialogue_turn(&self, job: &Job) -> Result<(), JobFailure> {
        let id = job.payload["dialogue_id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| JobFailure {
                message: "the job names no dialogue".into(),
                retryable: false,
            })?;
        let Some(mut dialogue) = self.store.dialogue(id).await.map_err(Error::from)? else {
            return Ok(());
        };
        let turn = job.payload["turn"].as_u64();
        if turn != Some(u64::from(dialogue.turns)) {
            return Ok(());
        }
        let now = now();
        match dialogue.status {
            DialogueStatus::Scheduled => {
                let read_at = dialogue.updated_at;
                dialogue.status = DialogueStatus::Running;
                dialogue.started_at = Some(now);
                dialogue.updated_at = now;
                if !self
                    .store
                    .save_dialogue(&dialogue, read_at)
                    .await
                    .map_err(Error::from)?
                {
                    return Ok(());
                }
            }
            DialogueStatus::Running => {}
            _ => return Ok(()),
        }
        if dialogue.started_at.is_none() {
            dialogue.started_at = Some(now);
        }
        if dialogue.time_spent(now) {
            let reason = "the time budget was spent".into();
            self.close_dialogue(dialogue, DialogueStatus::Completed, reason)
                .await?;
            return Ok(());
        }
        match self.reply_in_dialogue(&dialogue).await {
            Ok((reply, tokens)) => self.advance_dialogue(dialogue, &reply, tokens).await,
            Err(error) => {
                let failure = JobFailure::from(error);
                if !failure.retryable || job.attempts >= job.max_attempts {
                    // No run will follow: the dialogue ends, saying why.
                    let reason = format!("a reply failed: {}", failure.message);
                    self.close_dialogue(dialogue, DialogueStatus::Failed, reason)
                        .await?;
                }
                Err(failure)
            }
        }
    }

    /// The next speaker's reply to what was last said, and the tokens it took.
    async fn reply_in_dialogue(&self, dialogue: &Dialogue) -> Result<(String, u64)> {
        let initiator = self.locrit(dialogue.locrit_id).await?;
        let partner_name = self.partner_name(dialogue).await?;
        let speaker_is_initiator = dialogue.next_speaker == Side::Initiator;
        let (listener_name, text) = if dialogue.next_text.is_empty() {
            let opening = format!(
                "Engage la conversation avec {partner_name} sur ce sujet : {}",
                dialogue.topic
            );
            (partner_name.clone(), opening)
        } else if speaker_is_initiator {
            (partner_name.clone(), dialogue.next_text.clone())
        } else {
            (initiator.name.clone(), dialogue.next_text.clone())
        };
        let additions = self.dialogue_instructions(dialogue, &listener_name);
        if speaker_is_initiator {
            return self
                .local_reply(&initiator, dialogue, &listener_name, text, additions)
                .await;
        }
        match dialogue.partner {
            Partner::Local { locrit_id } => {
                let partner = self.locrit(locrit_id).await?;
                self.local_reply(&partner, dialogue, &initiator.name, text, additions)
                    .await
            }
            Partner::Remote { contact_id } => {
                let contact = self
                    .store
                    .contact(contact_id)
                    .await?
                    .ok_or(Error::NotFound("contact"))?;
                let peer =
                    PeerClient::new(&contact.server_url, contact.api_key.clone(), PEER_TIMEOUT)?;
                let context = additions.join("\n");
                let session = dialogue.id.to_string();
                let message = PeerMessage {
                    message: &text,
                    sender_name: &initiator.name,
                    sender_type: "locrit",
                    context: &context,
                    session_id: &session,
                };
                let reply = peer.chat(&contact.name, &message).await?;
                Ok((reply.response, reply.tokens.unwrap_or(0)))
            }
        }
    }

    /// What a speaker is told besides the words it answers.
    fn dialogue_instructions(&self, dialogue: &Dialogue, listener: &str) -> Vec<String> {
        let mut additions = vec![format!(
            "Tu es en train de communiquer avec {listener}, un autre Locrit."
        )];
        if !dialogue.topic.is_empty() {
            additions.push(format!("Sujet de la conversation : {}", dialogue.topic));
        }
        additions.push(format!(
            "Quand la conversation te semble terminée, écris {END_MARKER} à la fin de ta réponse."
        ));
        if let Some(word) = &dialogue.steer {
            additions.push(format!(
                "La personne qui suit la conversation demande : {word}"
            ));
        }
        additions
    }

    /// A reply of a Locrit of this server, through its engine, in its dialogue session.
    async fn local_reply(
        &self,
        speaker: &Locrit,
        dialogue: &Dialogue,
        listener: &str,
        text: String,
        system_additions: Vec<String>,
    ) -> Result<(String, u64)> {
        let user = format!("locrit:{listener}");
        let request = TurnRequest {
            session: SessionTarget::Open(self.dialogue_session(dialogue, listener)),
            locrit: speaker.clone(),
            caller: Caller::Locrit,
            text,
            user_id: Some(user),
            system_additions,
        };
        let turn = self.start_turn(request).await?;
        self.events.publish(Event::DialogueTurn {
            dialogue_id: dialogue.id,
            locrit_id: dialogue.locrit_id,
            speaker: speaker.name.clone(),
            turn_id: turn.id,
        });
        match turn.finished().await {
            TurnEnd::Completed(reply) => {
                let tokens = reply.metadata["stats"]["eval_count"].as_u64().unwrap_or(0);
                Ok((reply.content, tokens))
            }
            TurnEnd::Cancelled(_) => Err(Error::Conflict("the reply was cancelled".into())),
            TurnEnd::Failed { error, .. } => Err(match error {
                crate::chat::TurnError::Llm(llm) => Error::Llm(llm),
                crate::chat::TurnError::Store(fault) => Error::Store(fault.into()),
            }),
        }
    }

    fn dialogue_session(&self, dialogue: &Dialogue, with: &str) -> NewSessionSpec {
        NewSessionSpec {
            key: dialogue_session_key(dialogue.id),
            kind: SessionKind::Chat,
            name: Some(format!("Conversation avec {with}")),
            user_id: Some(format!("locrit:{with}")),
            metadata: json!({"source": "dialogue", "dialogue_id": dialogue.id, "with": with}),
        }
    }

    /// Records a reply and queues the next one, or ends the dialogue.
    async fn advance_dialogue(
        &self,
        mut dialogue: Dialogue,
        reply: &str,
        tokens: u64,
    ) -> Result<(), JobFailure> {
        let speaker = dialogue.next_speaker;
        let used_steer = dialogue.steer.clone();
        loop {
            let read_at = dialogue.updated_at;
            let ending = dialogue.record_reply(reply, tokens, now());
            if dialogue.steer == used_steer {
                // Heard in this reply; a newer word waits for the next one.
                dialogue.steer = None;
            }
            dialogue.updated_at = now();
            let status = dialogue.status;
            if let Some(ending) = &ending
                && (status == DialogueStatus::Running || status == DialogueStatus::Paused)
            {
                dialogue.end(DialogueStatus::Completed, ending.describe(), now());
            }
            if self
                .store
                .save_dialogue(&dialogue, read_at)
                .await
                .map_err(Error::from)?
            {
                self.events
                    .publish(Event::DialogueUpdated(dialogue.clone()));
                if ending.is_some() {
                    self.deliver_last_words(&dialogue, speaker, reply).await?;
                } else if dialogue.status == DialogueStatus::Running {
                    self.queue_dialogue_turn(&dialogue, None).await?;
                }
                return Ok(());
            }
            // Paused or stopped while the reply was made: record it on what is stored.
            dialogue = self
                .store
                .dialogue(dialogue.id)
                .await
                .map_err(Error::from)?
                .ok_or(Error::NotFound("dialogue"))?;
            dialogue.next_speaker = speaker;
        }
    }

    /// The reply that ended a dialogue reaches the other side's transcript too, when
    /// that side is on this server.
    async fn deliver_last_words(
        &self,
        dialogue: &Dialogue,
        speaker: Side,
        reply: &str,
    ) -> Result<()> {
        let initiator = self.locrit(dialogue.locrit_id).await?;
        let partner_name = self.partner_name(dialogue).await?;
        let words = reply.replace(END_MARKER, "").trim().to_owned();
        match (speaker, dialogue.partner) {
            (Side::Partner, _) => {
                self.record_heard(&initiator, dialogue, &partner_name, Role::User, &words)
                    .await
            }
            (Side::Initiator, Partner::Local { locrit_id }) => {
                let partner = self.locrit(locrit_id).await?;
                self.record_heard(&partner, dialogue, &initiator.name, Role::User, &words)
                    .await
            }
            (Side::Initiator, Partner::Remote { .. }) => Ok(()),
        }
    }

    /// Appends words to a side's dialogue transcript without asking its model.
    async fn record_heard(
        &self,
        locrit: &Locrit,
        dialogue: &Dialogue,
        with: &str,
        role: Role,
        words: &str,
    ) -> Result<()> {
        let spec = self.dialogue_session(dialogue, with);
        let session = self.store.open_session(&spec.for_locrit(locrit.id)).await?;
        let message = NewMessage {
            user_id: (role == Role::User).then(|| format!("locrit:{with}")),
            ..NewMessage::new(role, words)
        };
        let stored = self.store.append_message(session.id, &message).await?;
        self.events.publish(Event::MessageStored(stored));
        Ok(())
    }

    async fn close_dialogue(
        &self,
        mut dialogue: Dialogue,
        status: DialogueStatus,
        reason: String,
    ) -> Result<()> {
        let read_at = dialogue.updated_at;
        dialogue.end(status, reason, now());
        dialogue.updated_at = now();
        if self.store.save_dialogue(&dialogue, read_at).await? {
            self.events.publish(Event::DialogueUpdated(dialogue));
        }
        Ok(())
    }

    /// The partner's name: a local Locrit's, or the contact's.
    async fn partner_name(&self, dialogue: &Dialogue) -> Result<String> {
        match dialogue.partner {
            Partner::Local { locrit_id } => Ok(self.locrit(locrit_id).await?.name),
            Partner::Remote { contact_id } => Ok(self
                .store
                .contact(contact_id)
                .await?
                .ok_or(Error::NotFound("contact"))?
                .name),
        }
    }
}
