//! The embedding worker: computes the embeddings that messages and memories lack for
//! the configured model, in batches, in the background, so a chat turn never waits.
//!
//! Its work list is the store itself (rows without a vector for model M), so it resumes
//! after a restart and starts over when the model changes. It wakes on the event bus
//! (a stored message or memory), looks only at rows created since its last pass for
//! those, makes a full pass at start, on a model change, after an edit or a missed
//! event, and every [`FULL_PASS_EVERY`] (rows written by another server). When a
//! Locrit's embedding server fails, that Locrit is retried later with a growing delay
//! while the others go on.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use locrit_domain::Locrit;
use locrit_llm::{LlmBackend, Timeouts};
use locrit_store::{EmbedTask, NewEmbedding};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::events::Event;
use crate::{Core, Result};

/// Texts per `/api/embed` request.
const BATCH: u32 = 32;
/// Longest text sent, in characters: embedding models have a bounded context.
const MAX_EMBED_CHARS: usize = 8_000;
/// How often the configured model is checked, and the wait after a wake-up during
/// which further events are gathered into the same pass.
const IDLE_CHECK: Duration = Duration::from_secs(5);
const GATHER: Duration = Duration::from_millis(200);
const FULL_PASS_EVERY: Duration = Duration::from_secs(600);
/// Rows created this long before a pass started are looked at again by the next one
/// (commits finishing late, other servers' clocks).
const PASS_OVERLAP: chrono::Duration = chrono::Duration::seconds(60);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(300);
/// How long one embedding request may take (a CPU-only server is slow).
const EMBED_TIMEOUT: Duration = Duration::from_secs(120);

/// Per-Locrit progress of the worker.
#[derive(Default)]
struct Progress {
    /// Rows created from then on are the only ones that may lack a vector; absent: all.
    since: HashMap<Uuid, DateTime<Utc>>,
    /// Locrits whose server failed: when to try again, and the next delay.
    retry: HashMap<Uuid, (Instant, Duration)>,
}

impl Core {
    /// Starts the embedding worker. It runs until the returned task is aborted.
    pub fn spawn_embedder(&self) -> JoinHandle<()> {
        let core = self.clone();
        tokio::spawn(async move { core.run_embedder().await })
    }

    async fn run_embedder(self) {
        let mut events = self.subscribe();
        let mut progress = Progress::default();
        let mut model = None;
        let mut last_full_pass = Instant::now();
        loop {
            match self.global_config().await {
                Ok(config) if model.as_ref() != Some(&config.ollama.embedding_model) => {
                    model = Some(config.ollama.embedding_model);
                    progress.since.clear();
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "embedding worker: no configuration"),
            }
            if last_full_pass.elapsed() >= FULL_PASS_EVERY {
                progress.since.clear();
                last_full_pass = Instant::now();
            }
            if model.is_some()
                && let Err(error) = self.embedding_pass(&mut progress).await
            {
                tracing::warn!(%error, "embedding worker: pass failed");
            }

            let next_retry = progress.retry.values().map(|(at, _)| *at).min();
            let wake_at = next_retry.map_or(Instant::now() + IDLE_CHECK, |at| {
                at.min(Instant::now() + IDLE_CHECK)
            });
            tokio::select! {
                received = events.recv() => {
                    if note(&mut progress, received) {
                        return;
                    }
                    // Gather the burst (a turn stores two messages) into one pass.
                    tokio::time::sleep(GATHER).await;
                    loop {
                        match events.try_recv() {
                            Ok(event) => { note(&mut progress, Ok(event)); }
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                                progress.since.clear();
                            }
                            Err(_) => break,
                        }
                    }
                }
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// One pass over every Locrit not waiting for a retry.
    async fn embedding_pass(&self, progress: &mut Progress) -> Result<()> {
        let now = Instant::now();
        progress.retry.retain(|_, (at, _)| *at > now);
        for locrit in self.store.locrits().await? {
            if progress.retry.contains_key(&locrit.id) {
                continue;
            }
            let started = Utc::now();
            let since = progress.since.get(&locrit.id).copied();
            match self.embed_backlog(&locrit, since).await {
                Ok(()) => {
                    progress.since.insert(locrit.id, started - PASS_OVERLAP);
                }
                Err(error) => {
                    let delay = progress
                        .retry
                        .get(&locrit.id)
                        .map_or(FIRST_RETRY, |(_, d)| (*d * 2).min(LAST_RETRY));
                    tracing::warn!(locrit = %locrit.name, %error, ?delay, "embedding failed; will retry");
                    progress
                        .retry
                        .insert(locrit.id, (Instant::now() + delay, delay));
                }
            }
        }
        Ok(())
    }

    /// Embeds the Locrit's rows lacking a vector for its embedding model, batch after
    /// batch.
    async fn embed_backlog(&self, locrit: &Locrit, since: Option<DateTime<Utc>>) -> Result<()> {
        let (url, model) = self.embedding_target(locrit).await?;
        let model = model.as_str();
        let client = self
            .llm_backend(
                &url,
                Timeouts {
                    request: EMBED_TIMEOUT,
                    ..Timeouts::default()
                },
            )
            .await;
        loop {
            let tasks = self
                .store
                .embedding_backlog(locrit.id, model, since, BATCH)
                .await?;
            if tasks.is_empty() {
                return Ok(());
            }
            let vectors = embed(&*client, model, &tasks).await?;
            let embeddings: Vec<NewEmbedding> = tasks
                .into_iter()
                .zip(vectors)
                .map(|(task, vector)| NewEmbedding { task, vector })
                .collect();
            let stored = self.store.put_embeddings(model, &embeddings).await?;
            if stored > 0 {
                self.vectors_stored(locrit.id, model);
            }
            // Every row changed under us, or the batch was the last: the next pass goes on.
            if stored == 0 || embeddings.len() < BATCH as usize {
                return Ok(());
            }
        }
    }
}

/// The tasks' vectors, in order; a blank text gets an empty vector (stored, so it
/// leaves the work list, and never indexed).
async fn embed(client: &dyn LlmBackend, model: &str, tasks: &[EmbedTask]) -> Result<Vec<Vec<f32>>> {
    let inputs: Vec<String> = tasks
        .iter()
        .filter(|t| !t.content.trim().is_empty())
        .map(|t| t.content.chars().take(MAX_EMBED_CHARS).collect())
        .collect();
    let mut computed = if inputs.is_empty() {
        Vec::new()
    } else {
        client.embed(model, &inputs).await?
    }
    .into_iter();
    Ok(tasks
        .iter()
        .map(|t| {
            if t.content.trim().is_empty() {
                Vec::new()
            } else {
                computed.next().unwrap_or_default()
            }
        })
        .collect())
}

/// Updates the progress for an event; true when the bus is closed (the core is gone).
fn note(progress: &mut Progress, received: Result<Event, RecvError>) -> bool {
    match received {
        // New rows are found by the incremental pass.
        Ok(Event::MessageStored(_) | Event::MemoryAdded(_) | Event::TurnStarted { .. }) => {}
        // Deletions need nothing: the vectors went with their rows.
        Ok(
            Event::MessageDeleted { .. }
            | Event::SessionDeleted { .. }
            | Event::MemoryDeleted { .. }
            | Event::MemoryCleared { .. },
        ) => {}
        // An edit (or any other change) may have dropped vectors of older rows.
        Ok(event) => {
            progress.since.remove(&event.locrit_id());
        }
        Err(RecvError::Lagged(_)) => progress.since.clear(),
        Err(RecvError::Closed) => return true,
    }
    false
}
