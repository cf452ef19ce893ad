//! Learning from an exchange, in the background: once a reply is stored, a job asks the
//! Locrit's own model for lasting facts (memories) and the entities and relations it met
//! (concepts), with Ollama's `format` set to a JSON schema. The answer is validated
//! before anything is stored; a bad answer or an unreachable model fails the run, which
//! the job runner retries a bounded number of times and then shows as a failed job. The
//! chat itself never waits for any of it.

use futures::StreamExt;
use locrit_domain::{Job, Locrit, MemoryService, Message, NewJob, NewMemory};
use locrit_llm::{ChatEvent, ChatMessage, ChatOptions, ChatRequest};
use locrit_store::MemoryQuery;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::facts::MAX_MEMORY_BYTES;
use crate::events::Event;
use crate::jobs::{EXTRACT_MEMORIES, JobFailure};
use crate::{Core, Result};

/// Runs of one extraction, at most (the first and the retries).
const MAX_ATTEMPTS: i32 = 3;
/// How many current memories the model sees, to tell what a new fact contradicts.
const KNOWN_MEMORIES: u32 = 30;
/// At most this many memories and concepts are kept from one exchange.
const MAX_NEW_MEMORIES: usize = 10;
const MAX_NEW_CONCEPTS: usize = 20;
/// The longest a concept name or type, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// What the model is asked to answer, as a JSON schema.
fn answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "memories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string"},
                        "importance": {"type": "number", "minimum": 0, "maximum": 1},
                        "supersedes": {"type": "array", "items": {"type": "integer"}}
                    },
                    "required": ["content", "importance"]
                }
            },
            "concepts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "type": {"type": "string"},
                        "description": {"type": "string"}
                    },
                    "required": ["name", "type"]
                }
            },
            "relations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "from": {"type": "string"},
                        "to": {"type": "string"},
                        "relation": {"type": "string"}
                    },
                    "required": ["from", "to", "relation"]
                }
            }
        },
        "required": ["memories", "concepts", "relations"]
    })
}

#[derive(Debug, Deserialize)]
struct Answer {
    memories: Vec<LearnedMemory>,
    concepts: Vec<LearnedConcept>,
    relations: Vec<LearnedRelation>,
}

#[derive(Debug, Deserialize)]
struct LearnedMemory {
    content: String,
    importance: f64,
    /// Numbers of the known memories (as listed to the model, from 1) this one contradicts.
    #[serde(default)]
    supersedes: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct LearnedConcept {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LearnedRelation {
    from: String,
    to: String,
    relation: String,
}

impl Core {
    /// The job that extracts what an answered exchange taught the Locrit, to be stored
    /// with the reply (`reply_id`) in its transaction; `None` when its memory or
    /// extraction is switched off (`memory.extraction: false` in the config).
    pub(crate) async fn extraction_job(
        &self,
        locrit: &Locrit,
        question: &Message,
        reply_id: Uuid,
    ) -> Option<NewJob> {
        if locrit.memory_service == MemoryService::Disabled {
            return None;
        }
        match self.global_config().await {
            Ok(config) if config.memory.get("extraction") == Some(&Value::Bool(false)) => {
                return None;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "config unreadable; extracting anyway"),
        }
        Some(NewJob {
            kind: EXTRACT_MEMORIES.into(),
            locrit_id: Some(locrit.id),
            payload: json!({"messages": [question.id, reply_id]}),
            max_attempts: MAX_ATTEMPTS,
            run_after: None,
        })
    }

    pub(crate) async fn extract_memories(&self, job: &Job) -> Result<(), JobFailure> {
        let Some(locrit_id) = job.locrit_id else {
            return Ok(());
        };
        let Some(locrit) = self
            .store
            .locrit(locrit_id)
            .await
            .map_err(crate::Error::from)?
        else {
            return Ok(()); // The Locrit is gone, and its memory with it.
        };
        let ids: Vec<Uuid> = serde_json::from_value(job.payload["messages"].clone())
            .map_err(|e| permanent(format!("bad job payload: {e}")))?;
        let mut exchange = Vec::new();
        for id in ids {
            // A message deleted since is not learned from.
            if let Some(message) = self
                .store
                .message(locrit.id, id)
                .await
                .map_err(crate::Error::from)?
            {
                exchange.push(message);
            }
        }
        if exchange.is_empty() {
            return Ok(());
        }
        let known = self
            .store
            .memories(
                locrit.id,
                &MemoryQuery {
                    limit: Some(KNOWN_MEMORIES),
                    current_only: true,
                    ..MemoryQuery::default()
                },
            )
            .await
            .map_err(crate::Error::from)?;
        if known
            .iter()
            .any(|m| m.metadata.get("job_id") == Some(&json!(job.id)))
        {
            return Ok(()); // An earlier run stored its findings and died before it ended.
        }
        let text = self.ask_model(&locrit, &known, &exchange).await?;
        let answer = parse_answer(&text, known.len())?;
        let sources: Vec<Uuid> = exchange.iter().map(|m| m.id).collect();
        for memory in answer.memories {
            let supersedes = memory
                .supersedes
                .iter()
                .map(|n| known[usize::try_from(*n - 1).unwrap_or_default()].id)
                .collect();
            let new = NewMemory {
                content: memory.content.trim().to_owned(),
                importance: memory.importance,
                metadata: json!({"job_id": job.id, "learned_by": locrit.ollama_model}),
                source_message_ids: sources.clone(),
                supersedes,
                ..NewMemory::default()
            };
            self.add_memory(&locrit, new).await?;
        }
        let mut concept_ids = std::collections::HashMap::new();
        for concept in &answer.concepts {
            let stored = self
                .store
                .mention_concept(
                    locrit.id,
                    concept.name.trim(),
                    concept.kind.trim(),
                    concept.description.as_deref(),
                )
                .await
                .map_err(crate::Error::from)?;
            concept_ids.insert(concept.name.trim().to_owned(), stored.id);
        }
        for relation in &answer.relations {
            let ends = (
                concept_ids.get(relation.from.trim()),
                concept_ids.get(relation.to.trim()),
            );
            if let (Some(from), Some(to)) = ends {
                self.store
                    .relate_concepts(*from, *to, relation.relation.trim())
                    .await
                    .map_err(crate::Error::from)?;
            }
        }
        if !answer.concepts.is_empty() {
            self.events.publish(Event::ConceptsChanged {
                locrit_id: locrit.id,
            });
        }
        Ok(())
    }

    /// The model's whole answer to the extraction prompt.
    async fn ask_model(
        &self,
        locrit: &Locrit,
        known: &[locrit_domain::Memory],
        exchange: &[Message],
    ) -> Result<String, JobFailure> {
        let Some(url) = locrit.ollama_url.as_deref() else {
            return Err(permanent(
                "no Ollama server is configured for this Locrit".into(),
            ));
        };
        if locrit.ollama_model.trim().is_empty() {
            return Err(permanent("no model is configured for this Locrit".into()));
        }
        let request = ChatRequest {
            model: locrit.ollama_model.clone(),
            messages: vec![
                ChatMessage::system(instructions(&locrit.name)),
                ChatMessage::user(material(&locrit.name, known, exchange)),
            ],
            options: ChatOptions {
                temperature: Some(0.0),
                ..ChatOptions::default()
            },
            format: Some(answer_schema()),
        };
        let backend = self.chat_backend(url).await?;
        let mut stream = backend.chat(request).await.map_err(crate::Error::from)?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event.map_err(crate::Error::from)? {
                ChatEvent::Delta(delta) => text.push_str(&delta),
                ChatEvent::Done(_) => break,
            }
        }
        Ok(text)
    }
}

fn instructions(name: &str) -> String {
    format!(
        "You maintain the long-term memory of {name}. From the exchange below, list: \
         `memories`: lasting facts about the people {name} talks to or about the world, worth \
         knowing in later conversations (not small talk), each with an importance from 0 to 1, \
         and in `supersedes` the numbers of known memories it contradicts; `concepts`: the \
         named entities met (people, places, things, ideas) with a type; `relations`: links \
         between those concepts. Empty lists are fine. Answer with JSON only."
    )
}

fn material(name: &str, known: &[locrit_domain::Memory], exchange: &[Message]) -> String {
    let mut text = String::from("Known memories:\n");
    if known.is_empty() {
        text.push_str("(none)\n");
    }
    for (n, memory) in known.iter().enumerate() {
        text.push_str(&format!("[{}] {}\n", n + 1, memory.content));
    }
    text.push_str("\nExchange:\n");
    for message in exchange {
        let speaker = match message.role {
            locrit_domain::Role::Assistant => name,
            locrit_domain::Role::User => "User",
            locrit_domain::Role::System => "System",
        };
        text.push_str(&format!("{speaker}: {}\n", message.content));
    }
    text
}

/// The model's answer, checked: well-formed, within bounds, naming known memories only.
fn parse_answer(text: &str, known: usize) -> Result<Answer, JobFailure> {
    let invalid = |why: String| JobFailure {
        message: format!("the model's answer is not valid: {why}"),
        retryable: true,
    };
    let answer: Answer = serde_json::from_str(text.trim()).map_err(|e| invalid(e.to_string()))?;
    if answer.memories.len() > MAX_NEW_MEMORIES || answer.concepts.len() > MAX_NEW_CONCEPTS {
        return Err(invalid("too many memories or concepts".into()));
    }
    for memory in &answer.memories {
        let content = memory.content.trim();
        if content.is_empty() || content.len() > MAX_MEMORY_BYTES {
            return Err(invalid("a memory is empty or too long".into()));
        }
        if !(0.0..=1.0).contains(&memory.importance) {
            return Err(invalid("an importance is not between 0 and 1".into()));
        }
        if memory
            .supersedes
            .iter()
            .any(|n| *n < 1 || usize::try_from(*n).unwrap_or(usize::MAX) > known)
        {
            return Err(invalid("`supersedes` names an unknown memory".into()));
        }
    }
    let names = answer.concepts.iter().flat_map(|c| [&c.name, &c.kind]);
    let relations = answer.relations.iter().map(|r| &r.relation);
    if names
        .chain(relations)
        .any(|text| text.trim().is_empty() || text.len() > MAX_NAME_BYTES)
    {
        return Err(invalid("a concept or relation is empty or too long".into()));
    }
    Ok(answer)
}

fn permanent(message: String) -> JobFailure {
    JobFailure {
        message,
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_before_anything_is_stored() {
        let ok = r#"{"memories":[{"content":"Alice likes tea","importance":0.7,"supersedes":[1]}],
                     "concepts":[{"name":"Alice","type":"person"}],"relations":[]}"#;
        assert_eq!(parse_answer(ok, 1).unwrap().memories.len(), 1);
        for (bad, known) in [
            ("not json", 0),
            (r#"{"memories":[]}"#, 0),
            (
                r#"{"memories":[{"content":" ","importance":0.5}],"concepts":[],"relations":[]}"#,
                0,
            ),
            (
                r#"{"memories":[{"content":"x","importance":2}],"concepts":[],"relations":[]}"#,
                0,
            ),
            (
                r#"{"memories":[{"content":"x","importance":0.5,"supersedes":[2]}],"concepts":[],"relations":[]}"#,
                1,
            ),
            (
                r#"{"memories":[],"concepts":[{"name":"","type":"x"}],"relations":[]}"#,
                0,
            ),
        ] {
            let failure = parse_answer(bad, known)
                .err()
                .unwrap_or_else(|| panic!("{bad} passed"));
            assert!(failure.retryable, "a bad answer is worth another try");
        }
    }
}
