//! The one measuring loop: `n` workers, each repeating a turn until the deadline, and
//! the percentiles of what they saw.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

/// Medians and tails of one set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub samples: usize,
}

impl Latency {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q).round() as usize)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        Self {
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            samples: samples.len(),
        }
    }
}

/// What a measured cell saw: every turn's duration, and its time to first chunk when
/// the turn streamed.
pub struct Run<S> {
    pub states: Vec<S>,
    pub turns: Vec<Duration>,
    pub first_chunks: Vec<Duration>,
    pub elapsed: Duration,
}

impl<S> Run<S> {
    pub fn turns_per_second(&self) -> f64 {
        self.turns.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs one worker per state for `seconds`: each calls `turn(state)` in a loop (a
/// closed loop: the next turn starts `think` after the last one ended, as a person
/// reads the reply and types the next message; zero saturates the server). With a
/// pause, the workers' first turns are spread over it, so they do not all send at once.
/// A turn gives its state back with its time to first chunk, if it streamed. The first
/// error stops the run.
pub async fn closed_loop<S, F, Fut>(
    states: Vec<S>,
    seconds: f64,
    think: Duration,
    turn: F,
) -> anyhow::Result<Run<S>>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<(S, Option<Duration>)>> + Send,
{
    let turn = Arc::new(turn);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let count = states.len().max(1) as u32;
    let workers = states.into_iter().enumerate().map(|(index, mut state)| {
        let turn = turn.clone();
        let first = started + think * index as u32 / count;
        tokio::spawn(async move {
            let (mut turns, mut first_chunks) = (Vec::new(), Vec::new());
            tokio::time::sleep_until(first.into()).await;
            while Instant::now() < deadline {
                let start = Instant::now();
                let (next, first_chunk) = turn(state).await?;
                turns.push(start.elapsed());
                first_chunks.extend(first_chunk);
                state = next;
                if Instant::now() + think >= deadline {
                    break; // No turn would start: the run ends here, not after a pause.
                }
                tokio::time::sleep(think).await;
            }
            anyhow::Ok((state, turns, first_chunks))
        })
    });
    let done = futures::future::join_all(workers).await;
    let elapsed = started.elapsed();
    let mut run = Run {
        states: Vec::new(),
        turns: Vec::new(),
        first_chunks: Vec::new(),
        elapsed,
    };
    for worker in done {
        let (state, turns, first_chunks) = worker.context("a worker panicked")??;
        run.states.push(state);
        run.turns.extend(turns);
        run.first_chunks.extend(first_chunks);
    }
    Ok(run)
}
