//! Building the prompt of a turn: the persona, then what the Locrit recalls, then the
//! session's history in order, then the new message, exactly once, all fitted to the
//! model's context window by dropping the oldest turns first.

use locrit_domain::{Message, MessageStatus, Role};
use locrit_llm::ChatMessage;

/// Context assumed when the model does not say (Ollama's default window).
pub const DEFAULT_CONTEXT: u32 = 4096;
/// Largest window requested: a model's full window (128k for some) would make Ollama
/// allocate memory for all of it.
pub const MAX_CONTEXT: u32 = 16_384;

/// What goes into a prompt, before fitting.
pub struct PromptParts<'a> {
    pub system: String,
    /// Knowledge recalled for this turn, placed after the persona.
    pub recalled: Vec<String>,
    /// Earlier messages of the session, oldest first.
    pub history: &'a [Message],
    pub current: &'a str,
}

pub struct Prompt {
    pub messages: Vec<ChatMessage>,
    /// The window to ask the model for.
    pub num_ctx: u32,
    /// How many history messages did not fit.
    pub dropped: usize,
}

/// A cheap, conservative token estimate: about four bytes a token, plus framing.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len() / 3 + 4).unwrap_or(u32::MAX)
}

/// The window asked of the model.
pub(crate) fn window(model_context: Option<u32>) -> u32 {
    model_context.unwrap_or(DEFAULT_CONTEXT).min(MAX_CONTEXT)
}

/// The tokens the prompt may take: the window less a quarter kept for the reply.
pub fn history_budget(model_context: Option<u32>) -> u32 {
    let num_ctx = window(model_context);
    num_ctx - num_ctx / 4
}

pub fn build(parts: PromptParts<'_>, model_context: Option<u32>) -> Prompt {
    let num_ctx = window(model_context);
    let budget = history_budget(model_context);

    let mut system = parts.system;
    for memory in &parts.recalled {
        system.push_str("\n\n");
        system.push_str(memory);
    }
    let mut used = estimate_tokens(&system).saturating_add(estimate_tokens(parts.current));

    let turns: Vec<&Message> = parts
        .history
        .iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant) && !m.content.is_empty())
        // Another server's reply still being written is not part of the history yet.
        .filter(|m| m.status != MessageStatus::Streaming)
        // A message the model never answered would make two user turns in a row.
        .filter(|m| m.metadata.get("unanswered").is_none())
        .collect();
    // Walk back from the newest turn while it fits.
    let mut kept = 0;
    for message in turns.iter().rev() {
        let cost = estimate_tokens(&message.content);
        if used.saturating_add(cost) > budget {
            break;
        }
        used += cost;
        kept += 1;
    }
    let dropped = turns.len() - kept;

    let mut messages = Vec::with_capacity(kept + 2);
    messages.push(ChatMessage::system(system));
    for message in &turns[dropped..] {
        messages.push(match message.role {
            Role::Assistant => ChatMessage::assistant(message.content.clone()),
            _ => ChatMessage::user(message.content.clone()),
        });
    }
    messages.push(ChatMessage::user(parts.current));
    Prompt {
        messages,
        num_ctx,
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use locrit_domain::MessageStatus;
    use locrit_llm::Role as LlmRole;
    use serde_json::json;
    use uuid::Uuid;

    fn message(seq: i64, role: Role, content: &str) -> Message {
        Message {
            id: Uuid::now_v7(),
            locrit_id: Uuid::nil(),
            session_id: "s".into(),
            seq,
            role,
            content: content.into(),
            user_id: None,
            status: MessageStatus::Complete,
            metadata: json!({}),
            timestamp: locrit_domain::now(),
            edited_at: None,
        }
    }

    #[test]
    fn persona_first_history_in_order_current_once() {
        let history = [
            message(1, Role::User, "hi"),
            message(2, Role::Assistant, "hello"),
            message(3, Role::System, "note"),
        ];
        let prompt = build(
            PromptParts {
                system: "Tu es Bob".into(),
                recalled: vec![],
                history: &history,
                current: "how are you?",
            },
            Some(2048),
        );
        let roles: Vec<LlmRole> = prompt.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                LlmRole::System,
                LlmRole::User,
                LlmRole::Assistant,
                LlmRole::User
            ]
        );
        assert_eq!(prompt.messages[0].content, "Tu es Bob");
        assert_eq!(
            prompt
                .messages
                .iter()
                .filter(|m| m.content == "how are you?")
                .count(),
            1
        );
        assert_eq!((prompt.num_ctx, prompt.dropped), (2048, 0));
    }

    #[test]
    fn the_window_drops_the_oldest_turns_first() {
        let long = "x".repeat(300); // about 104 tokens each
        let history: Vec<Message> = (1..=20)
            .map(|i| {
                message(
                    i,
                    if i % 2 == 1 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    &format!("{i}{long}"),
                )
            })
            .collect();
        let prompt = build(
            PromptParts {
                system: "S".into(),
                recalled: vec![],
                history: &history,
                current: "now",
            },
            Some(1024),
        );
        assert!(prompt.dropped > 0);
        let kept: Vec<&str> = prompt.messages[1..prompt.messages.len() - 1]
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        let expected: Vec<String> = (prompt.dropped as i64 + 1..=20)
            .map(|i| format!("{i}{long}"))
            .collect();
        assert_eq!(kept, expected, "the newest turns are kept, in order");
        assert_eq!(prompt.messages.last().unwrap().content, "now");
    }

    #[test]
    fn huge_model_windows_are_capped_and_recall_follows_the_persona() {
        let prompt = build(
            PromptParts {
                system: "S".into(),
                recalled: vec!["Alice likes tea".into()],
                history: &[],
                current: "q",
            },
            Some(131_072),
        );
        assert_eq!(prompt.num_ctx, MAX_CONTEXT);
        assert_eq!(prompt.messages[0].content, "S\n\nAlice likes tea");
    }
}
