//! Locrits talking to Locrits: the remote Locrits a Locrit knows (contacts), and the
//! conversations two Locrits hold on their own (dialogues), with their budget and the
//! rules that end them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ValidationError;

/// A Locrit on another Locrit server, known to one of this server's Locrits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    /// The local Locrit whose contact it is.
    pub locrit_id: Uuid,
    /// The remote Locrit's name.
    pub name: String,
    /// The remote server's base URL (`http://host:port`).
    pub server_url: String,
    /// The API key the remote server's owner gave for calling it; never answered.
    #[serde(skip_serializing, default)]
    pub api_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Checks a remote server's URL: http(s), a host, nothing after the path.
pub fn validate_server_url(url: &str) -> Result<String, ValidationError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(url.to_owned()),
        _ => Err(ValidationError::new(
            "server_url",
            "an http:// or https:// URL of a Locrit server",
        )),
    }
}

/// Who a dialogue's initiator talks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Partner {
    /// Another Locrit of this server.
    Local { locrit_id: Uuid },
    /// A contact: a Locrit of another server.
    Remote { contact_id: Uuid },
}

/// What a dialogue may spend before it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    /// Replies, both sides together.
    pub max_turns: u32,
    /// Seconds from the first reply.
    pub max_seconds: Option<u32>,
    /// Tokens the models generated, both sides together (as they report them).
    pub max_tokens: Option<u64>,
}

pub const MAX_DIALOGUE_TURNS: u32 = 200;

impl Budget {
    pub fn validate(self) -> Result<Self, ValidationError> {
        if self.max_turns == 0 || self.max_turns > MAX_DIALOGUE_TURNS {
            return Err(ValidationError::new(
                "max_turns",
                format!("from 1 to {MAX_DIALOGUE_TURNS}"),
            ));
        }
        if self.max_seconds == Some(0) || self.max_tokens == Some(0) {
            return Err(ValidationError::new(
                "budget",
                "a limit of 0 would end it at once",
            ));
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DialogueStatus {
    /// Waiting for its start time.
    Scheduled,
    Running,
    Paused,
    /// Ended by a rule (budget, repetition, a side ending it).
    Completed,
    /// Ended by a person.
    Stopped,
    /// Ended by a failure (a model, a remote server).
    Failed,
}

impl DialogueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Scheduled,
            Self::Running,
            Self::Paused,
            Self::Completed,
            Self::Stopped,
            Self::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Whether it is over for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Stopped | Self::Failed)
    }
}

/// Which side speaks next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Initiator,
    Partner,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiator => "initiator",
            Self::Partner => "partner",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Initiator, Self::Partner]
            .into_iter()
            .find(|side| side.as_str() == text)
    }

    pub fn other(self) -> Self {
        match self {
            Self::Initiator => Self::Partner,
            Self::Partner => Self::Initiator,
        }
    }
}

/// A conversation between two Locrits, held by this server for its initiator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dialogue {
    pub id: Uuid,
    /// The local Locrit that started it.
    pub locrit_id: Uuid,
    pub partner: Partner,
    pub topic: String,
    pub budget: Budget,
    pub status: DialogueStatus,
    /// Why it ended, for people.
    pub stop_reason: Option<String>,
    /// Not before this time.
    pub start_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Replies so far, both sides.
    pub turns: u32,
    pub tokens: u64,
    /// Who answers next, and what they answer to.
    pub next_speaker: Side,
    pub next_text: String,
    /// A person's word for the next reply, if they gave one.
    pub steer: Option<String>,
    /// The last replies, for repetition detection.
    pub recent: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a reply that ends the dialogue contains; each side is told it may say it.
pub const END_MARKER: &str = "[[END]]";
const RECENT_REPLIES: usize = 4;
/// Replies this alike (word-trigram Jaccard) count as a repetition.
const REPETITION_SIMILARITY: f64 = 0.8;

/// Why a dialogue ends after a reply, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    TurnLimit,
    TimeBudget,
    TokenBudget,
    Repetition,
    EndedBy(Side),
}

impl Ending {
    pub fn describe(&self) -> String {
        match self {
            Self::TurnLimit => "the turn limit was reached".into(),
            Self::TimeBudget => "the time budget was spent".into(),
            Self::TokenBudget => "the token budget was spent".into(),
            Self::Repetition => "the Locrits started repeating themselves".into(),
            Self::EndedBy(Side::Initiator) => "the initiator ended it".into(),
            Self::EndedBy(Side::Partner) => "the partner ended it".into(),
        }
    }
}

impl Dialogue {
    /// Ends it for good, saying why.
    pub fn end(&mut self, status: DialogueStatus, reason: String, now: DateTime<Utc>) {
        self.status = status;
        self.stop_reason = Some(reason);
        self.ended_at = Some(now);
    }

    /// Records `reply` from the side that just spoke, and says whether the dialogue ends
    /// with it. The reply becomes what the other side answers.
    pub fn record_reply(&mut self, reply: &str, tokens: u64, now: DateTime<Utc>) -> Option<Ending> {
        let speaker = self.next_speaker;
        self.turns += 1;
        self.tokens += tokens;
        let repeated = self.recent.iter().any(|earlier| similar(earlier, reply));
        self.recent.push(reply.to_owned());
        if self.recent.len() > RECENT_REPLIES {
            self.recent.remove(0);
        }
        self.next_speaker = speaker.other();
        self.next_text = reply.replace(END_MARKER, "").trim().to_owned();
        if reply.contains(END_MARKER) {
            Some(Ending::EndedBy(speaker))
        } else if repeated {
            Some(Ending::Repetition)
        } else if self.turns >= self.budget.max_turns {
            Some(Ending::TurnLimit)
        } else if self.budget.max_tokens.is_some_and(|max| self.tokens >= max) {
            Some(Ending::TokenBudget)
        } else if self.time_spent(now) {
            Some(Ending::TimeBudget)
        } else {
            None
        }
    }

    /// Whether the time budget is spent at `now`.
    pub fn time_spent(&self, now: DateTime<Utc>) -> bool {
        match (self.budget.max_seconds, self.started_at) {
            (Some(max), Some(started)) => (now - started).num_seconds() >= i64::from(max),
            _ => false,
        }
    }
}

/// Whether two replies say the same thing: equal once normalised, or nearly the same
/// word trigrams.
fn similar(a: &str, b: &str) -> bool {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    if a == b {
        return true;
    }
    let trigrams =
        |words: &[String]| -> HashSet<String> { words.windows(3).map(|w| w.join(" ")).collect() };
    let (a, b) = (trigrams(&a), trigrams(&b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let shared = a.intersection(&b).count();
    let union = a.len() + b.len() - shared;
    shared as f64 / union as f64 >= REPETITION_SIMILARITY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialogue(budget: Budget) -> Dialogue {
        let now = Utc::now();
        Dialogue {
            id: Uuid::nil(),
            locrit_id: Uuid::nil(),
            partner: Partner::Local {
                locrit_id: Uuid::nil(),
            },
            topic: "rain".into(),
            budget,
            status: DialogueStatus::Running,
            stop_reason: None,
            start_at: now,
            started_at: Some(now),
            ended_at: None,
            turns: 0,
            tokens: 0,
            next_speaker: Side::Partner,
            next_text: "Hello".into(),
            steer: None,
            recent: Vec::new(),
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    const TEN: Budget = Budget {
        max_turns: 10,
        max_seconds: None,
        max_tokens: None,
    };

    #[test]
    fn sides_alternate_and_the_turn_limit_ends_it() {
        let mut d = dialogue(Budget {
            max_turns: 3,
            ..TEN
        });
        let now = Utc::now();
        assert_eq!(d.record_reply("one fish swims", 5, now), None);
        assert_eq!(
            (d.next_speaker, d.next_text.as_str()),
            (Side::Initiator, "one fish swims")
        );
        assert_eq!(d.record_reply("two birds fly high", 5, now), None);
        assert_eq!(d.next_speaker, Side::Partner);
        assert_eq!(
            d.record_reply("three cats sleep", 5, now),
            Some(Ending::TurnLimit)
        );
        assert_eq!((d.turns, d.tokens), (3, 15));
    }

    #[test]
    fn a_side_ends_it_with_the_marker() {
        let mut d = dialogue(TEN);
        let ending = d.record_reply("It was lovely. Goodbye! [[END]]", 1, Utc::now());
        assert_eq!(ending, Some(Ending::EndedBy(Side::Partner)));
        assert_eq!(d.next_text, "It was lovely. Goodbye!");
    }

    #[test]
    fn repetition_and_budgets_end_it() {
        let now = Utc::now();
        let mut d = dialogue(TEN);
        d.record_reply("The weather is nice today, is it not my friend?", 1, now);
        d.record_reply("Indeed, quite different words here entirely.", 1, now);
        let again = d.record_reply("the weather is NICE today, is it not, my friend", 1, now);
        assert_eq!(again, Some(Ending::Repetition));

        let mut d = dialogue(Budget {
            max_tokens: Some(10),
            ..TEN
        });
        assert_eq!(d.record_reply("a b c", 6, now), None);
        assert_eq!(d.record_reply("d e f", 6, now), Some(Ending::TokenBudget));

        let mut d = dialogue(Budget {
            max_seconds: Some(60),
            ..TEN
        });
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(d.record_reply("x y z", 1, later), Some(Ending::TimeBudget));
    }

    #[test]
    fn budgets_and_urls_are_checked() {
        assert!(TEN.validate().is_ok());
        assert!(
            Budget {
                max_turns: 0,
                ..TEN
            }
            .validate()
            .is_err()
        );
        assert!(
            Budget {
                max_tokens: Some(0),
                ..TEN
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            validate_server_url(" http://host:5000/ ").unwrap(),
            "http://host:5000"
        );
        for bad in ["ftp://x", "http://", "host:5000", "http://a b"] {
            assert!(validate_server_url(bad).is_err(), "{bad}");
        }
    }
}
