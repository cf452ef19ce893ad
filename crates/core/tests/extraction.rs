//! Learning from exchanges in the background: what the model is asked (a JSON schema),
//! what is stored from its answer, and failures that stay visible and can be retried,
//! while the chat itself is never held up or lost.

use std::time::Duration;

mod common;

use common::Setup;
use locrit_core::{Background, JobSettings};
use locrit_domain::{Caller, Job, JobStatus, MemoryService, Message, NewMemory};
use locrit_store::{JobQuery, MemoryQuery};
use locrit_testkit::{Endpoint, FakeFailure, Reply};
use serde_json::{Value, json};

/// A Locrit and a job runner that retries fast.
async fn setup(memory_service: MemoryService) -> (Setup, Background) {
    let setup = common::setup(|new| new.memory_service = memory_service).await;
    let background = setup.core.start_background(JobSettings {
        retry_base: Duration::from_millis(10),
        poll: Duration::from_millis(20),
        ..JobSettings::default()
    });
    (setup, background)
}

/// One exchange: the user's message and the stored reply.
async fn exchange(setup: &Setup, text: &str) -> (Message, Message) {
    let request = common::turn(&setup.locrit, Caller::Owner, Some("alice"), "s", text);
    common::exchange(setup, request).await
}

/// Waits until the Locrit's newest job is done or failed.
async fn settled_job(setup: &Setup) -> Job {
    let query = JobQuery {
        locrit_id: Some(setup.locrit.id),
        ..JobQuery::default()
    };
    for _ in 0..500 {
        let jobs = setup.core.jobs(&query).await.unwrap();
        if let Some(job) = jobs.first()
            && matches!(job.status, JobStatus::Done | JobStatus::Failed)
        {
            return job.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no job settled")
}

fn learned(memories: Value, concepts: Value, relations: Value) -> Reply {
    Reply::Text(
        json!({"memories": memories, "concepts": concepts, "relations": relations}).to_string(),
    )
}

#[tokio::test]
async fn an_exchange_teaches_memories_concepts_and_relations_with_their_sources() {
    let (setup, _jobs) = setup(MemoryService::PlaintextFile).await;
    setup.ollama.set_structured_reply(learned(
        json!([{"content": "Alice drinks green tea every morning", "importance": 0.8}]),
        json!([{"name": "Alice", "type": "person"}, {"name": "green tea", "type": "thing", "description": "a drink"}]),
        json!([{"from": "Alice", "to": "green tea", "relation": "drinks"}, {"from": "Alice", "to": "nobody", "relation": "x"}]),
    ));
    let (question, reply) = exchange(&setup, "I drink green tea every morning").await;
    let job = settled_job(&setup).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Done, 1));

    let asked = setup.ollama.requests_on(Endpoint::StructuredChat);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["format"]["required"],
        json!(["memories", "concepts", "relations"])
    );
    let prompt = asked[0]["messages"].to_string();
    assert!(prompt.contains("I drink green tea every morning") && prompt.contains(&reply.content));
    assert_eq!(
        setup.ollama.requests().len(),
        1,
        "the conversation's own call is apart"
    );

    let memories = setup
        .core
        .memories(&setup.locrit, &MemoryQuery::default())
        .await
        .unwrap();
    assert_eq!(memories.len(), 1);
    assert_eq!(memories[0].content, "Alice drinks green tea every morning");
    assert_eq!(memories[0].source_message_ids, [question.id, reply.id]);
    assert_eq!(memories[0].metadata["job_id"], json!(job.id));
    let concepts = setup.core.concepts(&setup.locrit).await.unwrap();
    let mut names: Vec<&str> = concepts.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Alice", "green tea"]);
    let (_, related) = setup
        .core
        .related_concepts(&setup.locrit, "Alice", 1)
        .await
        .unwrap();
    assert_eq!(
        related.len(),
        1,
        "a relation to an unknown concept is dropped"
    );
    assert_eq!(
        (related[0].0.name.as_str(), related[0].1.as_str()),
        ("green tea", "drinks")
    );
}

#[tokio::test]
async fn a_contradicting_fact_supersedes_the_known_one_which_is_kept() {
    let (setup, _jobs) = setup(MemoryService::PlaintextFile).await;
    let old = setup
        .core
        .add_memory(
            &setup.locrit,
            NewMemory {
                content: "Alice lives in Lyon".into(),
                importance: 0.6,
                metadata: json!({}),
                ..NewMemory::default()
            },
        )
        .await
        .unwrap();
    setup.ollama.set_structured_reply(learned(
        json!([{"content": "Alice lives in Paris", "importance": 0.7, "supersedes": [1]}]),
        json!([]),
        json!([]),
    ));
    exchange(&setup, "I moved to Paris").await;
    assert_eq!(settled_job(&setup).await.status, JobStatus::Done);
    let prompt = setup.ollama.requests_on(Endpoint::StructuredChat)[0]["messages"].to_string();
    assert!(
        prompt.contains("[1] Alice lives in Lyon"),
        "known memories are numbered: {prompt}"
    );
    let old = setup.core.memory(&setup.locrit, old.id).await.unwrap();
    let current = setup
        .core
        .memories(
            &setup.locrit,
            &MemoryQuery {
                current_only: true,
                ..MemoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].content, "Alice lives in Paris");
    assert_eq!(old.superseded_by, Some(current[0].id));
}

#[tokio::test]
async fn bad_answers_are_retried_then_shown_as_a_failed_job_that_can_be_retried() {
    let (setup, _jobs) = setup(MemoryService::PlaintextFile).await;
    setup
        .ollama
        .set_structured_reply("Sure! Here are the memories: none.");
    let (question, reply) = exchange(&setup, "hello").await;
    let job = settled_job(&setup).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 3));
    assert!(
        job.last_error.as_deref().unwrap().contains("not valid"),
        "{job:?}"
    );
    assert_eq!(
        setup.ollama.requests_on(Endpoint::StructuredChat).len(),
        3,
        "bounded retries"
    );
    let stored = setup.core.message(&setup.locrit, reply.id).await.unwrap();
    assert_eq!(stored.content, reply.content, "the chat is untouched");
    assert!(setup.core.message(&setup.locrit, question.id).await.is_ok());

    setup.ollama.set_structured_reply(learned(
        json!([{"content": "Alice says hello", "importance": 0.1}]),
        json!([]),
        json!([]),
    ));
    let again = setup.core.retry_job(&setup.locrit, job.id).await.unwrap();
    assert_eq!((again.status, again.attempts), (JobStatus::Queued, 0));
    let job = settled_job(&setup).await;
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(
        setup
            .core
            .memories(&setup.locrit, &MemoryQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        setup.core.retry_job(&setup.locrit, job.id).await.is_err(),
        "a done job is not retried"
    );
}

#[tokio::test]
async fn an_unreachable_model_fails_the_job_not_the_chat() {
    let (setup, _jobs) = setup(MemoryService::PlaintextFile).await;
    setup.ollama.fail_always_on(
        Endpoint::StructuredChat,
        FakeFailure::Http(500, "GPU on fire".into()),
    );
    let (_, reply) = exchange(&setup, "hello").await;
    assert_eq!(reply.content, "You said: hello");
    let job = settled_job(&setup).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.last_error.as_deref().unwrap().contains("GPU on fire"),
        "{job:?}"
    );
}

#[tokio::test]
async fn nothing_is_learned_when_the_locrit_memory_is_off() {
    let (setup, _jobs) = setup(MemoryService::Disabled).await;
    exchange(&setup, "hello").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        setup
            .core
            .jobs(&JobQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        setup
            .ollama
            .requests_on(Endpoint::StructuredChat)
            .is_empty()
    );
}
