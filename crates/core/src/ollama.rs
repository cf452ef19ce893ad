//! Asking an Ollama server what it offers.

use std::time::Duration;

use locrit_llm::{LlmError, ModelInfo, Timeouts};

use crate::Core;

/// How long a probe of a server may take, as in the original.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

impl Core {
    /// The models of the Ollama server at `url` (or of the embedded engine), by name.
    pub async fn ollama_models(&self, url: &str) -> Result<Vec<ModelInfo>, LlmError> {
        let timeouts = Timeouts {
            connect: PROBE_TIMEOUT,
            request: PROBE_TIMEOUT,
            ..Timeouts::default()
        };
        let mut models = self.llm_backend(url, timeouts).await.list_models().await?;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }
}
