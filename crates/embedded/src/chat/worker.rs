//! The generation thread: it owns the model weights (their KV cache is
//! per-generation state) and serves one request at a time, in arrival order,
//! off the async runtime.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use candle_transformers::utils::apply_repeat_penalty;
use locrit_llm::{ChatEvent, ChatStats, LlmError};
use tokio::sync::mpsc as async_mpsc;

use super::model::ChatModel;
use super::text::{Detokenizer, Filtered, JsonEnd, JsonProgress, StopFilter};

/// Ollama's defaults: a light penalty on the last 64 tokens keeps a small
/// model out of loops without changing what it says.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: usize = 64;

pub(crate) type EventSender = async_mpsc::Sender<Result<ChatEvent, LlmError>>;

/// One queued generation.
pub(crate) struct Job {
    pub prompt: Vec<u32>,
    /// Most tokens to generate (already capped by the context window).
    pub max_tokens: usize,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub stops: Vec<String>,
    /// Buffer the reply and release it only if it is valid JSON.
    pub json_only: bool,
    pub events: EventSender,
    pub queued_at: Instant,
}

/// Starts the thread; it ends when every sender is dropped.
pub(crate) fn spawn(model: Arc<ChatModel>, weights: ModelWeights) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("locrit-embedded-chat".into())
        .spawn(move || {
            let mut weights = weights;
            for job in queue {
                // A caller that went away while queued costs nothing.
                if job.events.is_closed() {
                    continue;
                }
                let events = job.events.clone();
                if let Err(error) = generate(&model, &mut weights, job) {
                    let _ = events.blocking_send(Err(LlmError::Protocol(format!(
                        "the embedded model failed: {error}"
                    ))));
                }
            }
        })
        .expect("spawn the embedded chat thread");
    jobs
}

/// Why generation ended early without an error to report.
enum Halt {
    /// The stream was dropped: nobody is listening.
    Cancelled,
}

fn generate(model: &ChatModel, weights: &mut ModelWeights, job: Job) -> candle_core::Result<()> {
    let started = Instant::now();
    weights.clear_kv_cache();
    let input = Tensor::new(job.prompt.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let mut logits = weights.forward(&input, 0)?.squeeze(0)?;
    let prompt_done = Instant::now();

    let sampling = match job.temperature {
        Some(temperature) if temperature > 0.0 => Sampling::All { temperature },
        _ => Sampling::ArgMax,
    };
    let seed = job.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mut sampler = LogitsProcessor::from_sampling(seed, sampling);
    let mut detokenizer = Detokenizer::new();
    let mut filter = StopFilter::new(&job.stops);
    let mut generated: Vec<u32> = Vec::new();
    let mut reply = String::new();
    let mut json = JsonEnd::default();
    let done_reason = loop {
        let recent = &generated[generated.len().saturating_sub(REPEAT_LAST_N)..];
        if !recent.is_empty() {
            logits = apply_repeat_penalty(&logits, REPEAT_PENALTY, recent)?;
        }
        let token = sampler.sample(&logits)?;
        if token == model.eos {
            break "stop";
        }
        generated.push(token);
        let text = detokenizer
            .push(&model.tokenizer, token)
            .map_err(candle_core::Error::msg)?;
        let (text, stopped) = match filter.push(&text) {
            Filtered::Continue(text) => (text, false),
            Filtered::Stop(text) => (text, true),
        };
        let kept = reply.len();
        let progress = if job.json_only {
            json.push(&text)
        } else {
            JsonProgress::Open
        };
        if emit(&job, &mut reply, text).is_err() {
            return Ok(());
        }
        match progress {
            JsonProgress::Open => {}
            // What the model adds after the value is not part of it.
            JsonProgress::Closed(length) => {
                reply.truncate(kept + length);
                break "stop";
            }
            // Not worth the rest of the reply: the check below refuses it now.
            JsonProgress::NotJson => break "stop",
        }
        if stopped {
            break "stop";
        }
        if generated.len() >= job.max_tokens {
            break "length";
        }
        if job.events.is_closed() {
            return Ok(());
        }
        let input = Tensor::new(&[token], &Device::Cpu)?.unsqueeze(0)?;
        logits = weights
            .forward(&input, job.prompt.len() + generated.len() - 1)?
            .squeeze(0)?;
    };
    // Text held back as a possible stop sequence that never completed.
    if emit(&job, &mut reply, filter.finish()).is_err() {
        return Ok(());
    }
    if job.json_only {
        if let Err(error) = serde_json::from_str::<serde_json::Value>(&reply) {
            let _ = job.events.blocking_send(Err(LlmError::Protocol(format!(
                "the embedded engine cannot constrain its output to a JSON format, and this \
                 answer is not valid JSON ({error})"
            ))));
            return Ok(());
        }
        if !reply.is_empty() && send(&job.events, ChatEvent::Delta(reply)).is_err() {
            return Ok(());
        }
    }
    let finished = Instant::now();
    let stats = ChatStats {
        done_reason: Some(done_reason.to_owned()),
        total_duration: Some(nanos(finished - job.queued_at)),
        load_duration: Some(nanos(started - job.queued_at)),
        prompt_eval_count: Some(job.prompt.len() as u64),
        prompt_eval_duration: Some(nanos(prompt_done - started)),
        eval_count: Some(generated.len() as u64),
        eval_duration: Some(nanos(finished - prompt_done)),
    };
    let _ = send(&job.events, ChatEvent::Done(stats));
    Ok(())
}

/// Streams `text` now, or keeps it for the final check in JSON mode.
fn emit(job: &Job, reply: &mut String, text: String) -> Result<(), Halt> {
    if text.is_empty() {
        return Ok(());
    }
    reply.push_str(&text);
    if job.json_only {
        return Ok(());
    }
    send(&job.events, ChatEvent::Delta(text))
}

fn send(events: &EventSender, event: ChatEvent) -> Result<(), Halt> {
    events.blocking_send(Ok(event)).map_err(|_| Halt::Cancelled)
}

fn nanos(duration: std::time::Duration) -> u64 {
    duration.as_nanos() as u64
}
