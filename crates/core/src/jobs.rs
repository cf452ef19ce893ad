//! Background jobs: work that must not hold up a chat (learning memories from an
//! exchange). Jobs live in the store: a server claims one with a lease, so a job runs
//! once even with several servers on one database, and a job whose server died is taken
//! over when its lease runs out. A job that keeps failing ends `failed`, visible to the
//! Locrit's owner, who can queue it again.

use std::time::Duration;

use chrono::Utc;
use locrit_domain::{Job, Locrit, NewJob};
use locrit_store::{JobOutcome, JobQuery};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::Event;
use crate::{Core, Error, Result};

/// Learns memories and concepts from one exchange (see `memory::extraction`).
pub const EXTRACT_MEMORIES: &str = "extract_memories";

/// The kinds this server knows how to run.
const KINDS: &[&str] = &[EXTRACT_MEMORIES, crate::dialogues::DIALOGUE_TURN];

/// How a job runner paces itself.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// How long a claimed job is ours without renewal (renewed every third of it while
    /// it runs); past it, another server may take it over.
    pub lease: Duration,
    /// The first retry waits this long, each next one twice as long.
    pub retry_base: Duration,
    /// How often an idle runner looks for due retries and abandoned jobs (new jobs of
    /// this server wake it at once), and for replies whose server stopped.
    pub poll: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(5),
            poll: Duration::from_secs(5),
        }
    }
}

/// Why a run of a job failed.
#[derive(Debug)]
pub(crate) struct JobFailure {
    pub message: String,
    /// False when running it again cannot help (its Locrit has no model).
    pub retryable: bool,
}

impl From<Error> for JobFailure {
    fn from(error: Error) -> Self {
        let retryable = matches!(error, Error::Llm(_) | Error::Store(_));
        JobFailure {
            message: error.to_string(),
            retryable,
        }
    }
}

pub(crate) struct JobsState {
    wake: Notify,
    /// This server, as named in job leases and to the other servers.
    pub(crate) runner: String,
}

impl Default for JobsState {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            runner: format!("locrit-{}-{}", std::process::id(), Uuid::new_v4()),
        }
    }
}

impl Core {
    /// Queues a job and wakes this server's runner.
    pub(crate) async fn enqueue_job(&self, job: NewJob) -> Result<Job> {
        let job = self.store.enqueue_job(&job).await?;
        self.job_queued(&job);
        Ok(job)
    }

    /// Announces a job stored (by any write) and wakes this server's runner.
    pub(crate) fn job_queued(&self, job: &Job) {
        self.events.publish(Event::JobUpdated(job.clone()));
        self.jobs.wake.notify_one();
    }

    /// A page of jobs, newest first.
    pub async fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        Ok(self.store.jobs(query).await?)
    }

    /// Queues a failed job of this Locrit again, with its attempts reset.
    pub async fn retry_job(&self, locrit: &Locrit, id: Uuid) -> Result<Job> {
        let job = self.store.job(id).await?;
        if job.is_none_or(|job| job.locrit_id != Some(locrit.id)) {
            return Err(Error::NotFound("job"));
        }
        let job = self
            .store
            .retry_job(id)
            .await?
            .ok_or_else(|| Error::Conflict("only a failed job can be retried".into()))?;
        self.events.publish(Event::JobUpdated(job.clone()));
        self.jobs.wake.notify_one();
        Ok(job)
    }

    /// Runs jobs, one at a time, until `shutdown`. Start it once per server.
    pub async fn run_jobs(&self, settings: JobSettings, shutdown: CancellationToken) {
        loop {
            let lease_until = Utc::now() + settings.lease;
            let claimed = self
                .store
                .claim_job(KINDS, &self.jobs.runner, lease_until)
                .await;
            match claimed {
                Ok(Some(job)) => {
                    tokio::select! {
                        () = self.run_job(job, settings) => {}
                        // Unfinished, the job's lease runs out and it runs again.
                        () = shutdown.cancelled() => return,
                    }
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot claim a job"),
            }
            tokio::select! {
                () = self.jobs.wake.notified() => {}
                () = tokio::time::sleep(settings.poll) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn run_job(&self, job: Job, settings: JobSettings) {
        let work = async {
            match job.kind.as_str() {
                EXTRACT_MEMORIES => self.extract_memories(&job).await,
                crate::dialogues::DIALOGUE_TURN => self.dialogue_turn(&job).await,
                other => Err(JobFailure {
                    message: format!("unknown job kind {other:?}"),
                    retryable: false,
                }),
            }
        };
        // The renewal runs beside the work, never instead of it: a renewal waiting for
        // the store's writer while the work, not polled, held it in a transaction, waited
        // for the pool's timeout (30 s) each time, and the job's lease ran out.
        let renewing = async {
            let mut renewal = tokio::time::interval(settings.lease / 3);
            renewal.tick().await;
            loop {
                renewal.tick().await;
                let lease_until = Utc::now() + settings.lease;
                match self
                    .store
                    .renew_job(job.id, &self.jobs.runner, lease_until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(job = %job.id, "job lease lost while it ran"),
                    Err(error) => {
                        tracing::warn!(job = %job.id, %error, "cannot renew a job's lease")
                    }
                }
            }
        };
        let result = tokio::select! {
            result = work => result,
            () = renewing => unreachable!("the renewal goes on until the work ends"),
        };
        let outcome = match result {
            Ok(()) => JobOutcome::Done,
            Err(failure) if failure.retryable && job.attempts < job.max_attempts => {
                let exponent = u32::try_from(job.attempts.max(1) - 1).unwrap_or(0).min(16);
                let wait = settings.retry_base.saturating_mul(1 << exponent);
                tracing::info!(job = %job.id, kind = %job.kind, error = %failure.message, ?wait, "job failed; will retry");
                JobOutcome::Retry {
                    error: failure.message,
                    at: Utc::now() + wait,
                }
            }
            Err(failure) => {
                tracing::warn!(job = %job.id, kind = %job.kind, error = %failure.message, "job failed for good");
                JobOutcome::Failed {
                    error: failure.message,
                }
            }
        };
        match self
            .store
            .finish_job(job.id, &self.jobs.runner, &outcome)
            .await
        {
            Ok(Some(finished)) => self.events.publish(Event::JobUpdated(finished)),
            // The server that took it over announces it.
            Ok(None) => tracing::warn!(job = %job.id, "job lease lost before it finished"),
            Err(error) => tracing::warn!(job = %job.id, %error, "cannot record a job's end"),
        }
    }
}

/// The background work of one server (jobs, embeddings), running until
/// [`stop`](Self::stop) or drop.
pub struct Background {
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stops the background work and waits for it; an unfinished job runs again later.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Core {
    /// Settles the turns whose server stopped (see `chat::runner`): a reply cut while
    /// streaming is marked interrupted, a question left waiting unanswered. Tells the
    /// live views.
    pub async fn settle_cut_turns(&self) -> Result<usize> {
        let settled = self.store.settle_expired_leases(Utc::now()).await?;
        let count = settled.len();
        for message in settled {
            tracing::info!(message = %message.id, "a turn cut by a stopped server is settled");
            self.events.publish(Event::MessageStored(message));
        }
        Ok(count)
    }

    async fn sweep_cut_turns(&self, every: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(error) = self.settle_cut_turns().await {
                tracing::warn!(%error, "cannot look for turns cut by a stopped server");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Starts this server's background work: the job runner, the sweeper of turns cut
    /// by a stopped server, the embedding worker, and the relay of live events to and
    /// from the other servers sharing the store.
    pub fn start_background(&self, settings: JobSettings) -> Background {
        let shutdown = CancellationToken::new();
        let core = self.clone();
        let token = shutdown.clone();
        let runner = tokio::spawn(async move { core.run_jobs(settings, token).await });
        let core = self.clone();
        let token = shutdown.clone();
        let sweeper = tokio::spawn(async move { core.sweep_cut_turns(settings.poll, token).await });
        let embedder = self.spawn_embedder();
        let token = shutdown.clone();
        let embedder = tokio::spawn(async move {
            token.cancelled().await;
            embedder.abort();
        });
        let mut tasks = vec![runner, sweeper, embedder];
        tasks.extend(self.start_relay(&shutdown));
        Background { shutdown, tasks }
    }
}
