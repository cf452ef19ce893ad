use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A model the fake "has": listed by `/api/tags`, described by `/api/show`,
/// usable by `/api/chat` and `/api/embed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeModel {
    /// As given; a name without a tag is stored as `name:latest`, like Ollama.
    pub name: String,
    /// `general.architecture`; the context length is reported under
    /// `<architecture>.context_length`.
    pub architecture: String,
    /// `None`: `/api/show` reports no context length at all.
    pub context_length: Option<u32>,
    /// Size on disk reported by `/api/tags`, in bytes.
    pub size: u64,
}

impl FakeModel {
    pub fn new(name: &str, context_length: impl Into<Option<u32>>) -> Self {
        Self {
            name: canonical_name(name),
            architecture: "llama".into(),
            context_length: context_length.into(),
            size: 2_019_393_189,
        }
    }

    pub fn with_architecture(mut self, architecture: &str) -> Self {
        self.architecture = architecture.into();
        self
    }
}

/// Ollama treats `llama3.2` and `llama3.2:latest` as the same model.
pub(crate) fn canonical_name(name: &str) -> String {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if last_segment.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// What a `/api/chat` request asked, as seen by a [`Reply::Func`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCall {
    /// The model name as sent (not canonicalised).
    pub model: String,
    pub messages: Vec<ChatCallMessage>,
    /// The whole request body.
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCallMessage {
    pub role: String,
    pub content: String,
}

impl ChatCall {
    pub fn last_user(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content.as_str())
    }
}

/// What the fake model answers. The default is
/// `"You said: <last user message>"`.
#[derive(Clone)]
pub enum Reply {
    /// Always this text, split into tokens by [`tokenize`].
    Text(String),
    /// Exactly these streamed pieces, one NDJSON line each (empty ones too).
    Tokens(Vec<String>),
    /// Computed from the request, then split by [`tokenize`].
    Func(Arc<dyn Fn(&ChatCall) -> String + Send + Sync>),
}

impl Reply {
    pub fn func(f: impl Fn(&ChatCall) -> String + Send + Sync + 'static) -> Self {
        Self::Func(Arc::new(f))
    }

    /// The last user message, verbatim.
    pub fn echo() -> Self {
        Self::func(|call| call.last_user().unwrap_or_default().to_owned())
    }

    pub(crate) fn tokens_for(&self, call: &ChatCall) -> Vec<String> {
        match self {
            Self::Text(text) => tokenize(text),
            Self::Tokens(tokens) => tokens.clone(),
            Self::Func(f) => tokenize(&f(call)),
        }
    }
}

impl Default for Reply {
    fn default() -> Self {
        Self::func(|call| format!("You said: {}", call.last_user().unwrap_or_default()))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Self::Tokens(tokens) => f.debug_tuple("Tokens").field(tokens).finish(),
            Self::Func(_) => f.write_str("Func(..)"),
        }
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// Splits text into word tokens the way the fake streams them: each token
/// is a word with the whitespace before it, as in `["Hello", " world", "!\n"]`
/// for real tokenizers. Concatenating the tokens gives back the text.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_whitespace() && current.chars().last().is_some_and(|l| !l.is_whitespace()) {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// The fake's embedding of `text`: a hashed bag of lowercase alphanumeric
/// words in `dim` dimensions, L2-normalised, so texts sharing words have a
/// high cosine similarity. Text without words maps to the first unit vector
/// (never a zero vector, which would make cosine similarity undefined).
pub fn fake_embedding(text: &str, dim: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dim];
    if dim == 0 {
        return vector;
    }
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let hash = fnv1a(word.as_bytes());
        let index = (hash % dim as u64) as usize;
        vector[index] += if hash >> 63 == 1 { -1.0 } else { 1.0 };
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    } else {
        vector[0] = 1.0;
    }
    vector
}

/// FNV-1a: stable across runs and platforms, unlike std's hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_keeps_whitespace_with_the_next_word() {
        assert_eq!(
            tokenize("Hello  world!\nBye"),
            ["Hello", "  world!", "\nBye"]
        );
        assert_eq!(tokenize("  lead"), ["  lead"]);
        assert_eq!(tokenize("trail "), ["trail", " "]);
        assert!(tokenize("").is_empty());
        let text = "Un été, à Paris…  fin.\n";
        assert_eq!(tokenize(text).concat(), text);
    }

    #[test]
    fn canonical_names_get_latest() {
        assert_eq!(canonical_name("llama3.2"), "llama3.2:latest");
        assert_eq!(canonical_name("qwen2:7b"), "qwen2:7b");
        assert_eq!(
            canonical_name("localhost:5000/ns/m"),
            "localhost:5000/ns/m:latest"
        );
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn embeddings_are_unit_deterministic_and_similarity_preserving() {
        let a = fake_embedding("The cat sat on the mat", 384);
        let b = fake_embedding("the CAT sat on the mat!", 384);
        let c = fake_embedding("Quarterly revenue grew by nine percent", 384);
        assert_eq!(a.len(), 384);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a, b);
        assert!(cosine(&a, &c) < 0.5);
        let empty = fake_embedding("  ", 8);
        assert_eq!(empty[0], 1.0);
    }
}
