//! all-MiniLM-L6-v2 sentence embeddings, run with candle's BERT.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use locrit_llm::{ChatRequest, ChatStream, LlmBackend, LlmError, ModelInfo};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::catalog::EMBEDDING_MODEL;
use crate::{EmbeddedError, bad_request, model_info, unknown_model};

/// The model was trained on sequences of up to 256 word pieces.
const MAX_TOKENS: usize = 256;
/// Sentences embedded per forward pass: batching is ~2.5x faster than one
/// at a time, bigger batches only cost memory.
const BATCH: usize = 32;

/// MiniLM run in process (mean pooling, L2-normalised, 384 dimensions).
/// Cheap to clone; embedding runs on the blocking thread pool.
#[derive(Clone)]
pub struct EmbeddedEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    size: Option<u64>,
}

impl EmbeddedEmbedder {
    /// Loads [`EMBEDDING_MODEL`] from `models_dir`. Blocking: call it from
    /// `spawn_blocking`.
    pub fn load(models_dir: &Path) -> Result<Self, EmbeddedError> {
        if !EMBEDDING_MODEL.is_present(models_dir) {
            return Err(EmbeddedError::Missing(EMBEDDING_MODEL.name));
        }
        let file = |name: &str| EMBEDDING_MODEL.file_in(models_dir, name);
        let load_error = |path: &Path, e: &dyn std::fmt::Display| EmbeddedError::Load {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let config_path = file("config.json");
        let config: Config = std::fs::read(&config_path)
            .map_err(|e| load_error(&config_path, &e))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| load_error(&config_path, &e))
            })?;
        let weights_path = file("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|e| load_error(&weights_path, &e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| load_error(&weights_path, &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_error(&weights_path, &e))?;
        let tokenizer_path = file("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| load_error(&tokenizer_path, &e))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| load_error(&tokenizer_path, &e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                size: EMBEDDING_MODEL.size_on_disk(models_dir),
            }),
        })
    }

    /// Embeds `inputs` on the calling thread.
    pub fn embed_blocking(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbeddedError> {
        let mut vectors = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(BATCH) {
            vectors.extend(self.embed_batch(batch).map_err(EmbeddedError::Inference)?);
        }
        Ok(vectors)
    }

    fn embed_batch(&self, inputs: &[String]) -> candle_core::Result<Vec<Vec<f32>>> {
        let encodings = self
            .inner
            .tokenizer
            .encode_batch(inputs.to_vec(), true)
            .map_err(candle_core::Error::msg)?;
        let rows = |ids: fn(&tokenizers::Encoding) -> &[u32]| {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(ids(e), &Device::Cpu))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::stack(&rows, 0)
        };
        let token_ids = rows(|e| e.get_ids())?;
        let type_ids = rows(|e| e.get_type_ids())?;
        let mask = rows(|e| e.get_attention_mask())?;
        let hidden = self
            .inner
            .model
            .forward(&token_ids, &type_ids, Some(&mask))?;
        // Mean of the real tokens' vectors (padding masked out), then L2 norm.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norms)?.to_vec2()
    }
}

#[async_trait]
impl LlmBackend for EmbeddedEmbedder {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(vec![model_info(&EMBEDDING_MODEL, self.inner.size)])
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        if model != EMBEDDING_MODEL.name {
            return Err(unknown_model(model));
        }
        Ok(Some(MAX_TOKENS as u32))
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        Err(bad_request(format!(
            "{} is an embedding model; it cannot chat",
            request.model
        )))
    }

    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if model != EMBEDDING_MODEL.name {
            return Err(unknown_model(model));
        }
        let embedder = self.clone();
        let inputs = inputs.to_vec();
        tokio::task::spawn_blocking(move || embedder.embed_blocking(&inputs))
            .await
            .map_err(|e| LlmError::Protocol(format!("the embedding task failed: {e}")))?
            .map_err(|e| LlmError::Protocol(e.to_string()))
    }
}
