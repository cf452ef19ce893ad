//! Loading the chat model from its GGUF file: weights, tokenizer and chat
//! template all come from the one file.

use std::path::Path;

use candle_core::Device;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use minijinja::{Environment, context};
use serde::Serialize;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use crate::EmbeddedError;
use locrit_llm::{ChatMessage, Role};

/// GGUF token type of control tokens (`<|im_start|>`, `<|im_end|>`, ...).
const CONTROL_TOKEN: i32 = 3;

/// What turns messages into tokens and back, read once from the GGUF file
/// (the weights go to the generation thread).
pub(crate) struct ChatModel {
    pub tokenizer: Tokenizer,
    template: String,
    pub eos: u32,
    /// The usable window: the trained one, capped by candle's rotary table.
    pub context_length: usize,
}

impl ChatModel {
    pub fn load(path: &Path) -> Result<(Self, ModelWeights), EmbeddedError> {
        let load_error = |e: &dyn std::fmt::Display| EmbeddedError::Load {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let mut file = std::fs::File::open(path).map_err(|e| load_error(&e))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| load_error(&e))?;
        let metadata = &content.metadata;
        let get = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| load_error(&format!("no {key} in the GGUF metadata")))
        };
        let string = |key: &str| -> Result<String, EmbeddedError> {
            get(key)?.to_string().cloned().map_err(|e| load_error(&e))
        };
        let strings = |key: &str| -> Result<Vec<String>, EmbeddedError> {
            get(key)?
                .to_vec()
                .map_err(|e| load_error(&e))?
                .iter()
                .map(|v| v.to_string().cloned().map_err(|e| load_error(&e)))
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let token_types: Vec<i32> = get("tokenizer.ggml.token_type")?
            .to_vec()
            .map_err(|e| load_error(&e))?
            .iter()
            .map(|v| v.to_i32().unwrap_or(1))
            .collect();
        let eos = get("tokenizer.ggml.eos_token_id")?
            .to_u32()
            .map_err(|e| load_error(&e))?;
        let template = string("tokenizer.chat_template")?;
        let trained_context = get("llama.context_length")?
            .to_u32()
            .map_err(|e| load_error(&e))? as usize;
        let tokenizer =
            build_tokenizer(&tokens, &merges, &token_types).map_err(|e| load_error(&e))?;
        let weights = ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
            .map_err(|e| load_error(&e))?;
        // Fail now, not at the first chat, if the template does not render.
        let model = Self {
            tokenizer,
            template,
            eos,
            context_length: trained_context.min(MAX_SEQ_LEN),
        };
        model
            .render(&[ChatMessage::user("hello")])
            .map_err(|e| load_error(&e))?;
        Ok((model, weights))
    }

    /// The conversation in the model's own chat template, ready for the
    /// assistant's reply.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, minijinja::Error> {
        #[derive(Serialize)]
        struct TemplateMessage<'a> {
            role: &'a str,
            content: &'a str,
        }
        let messages: Vec<_> = messages
            .iter()
            .map(|m| TemplateMessage {
                role: match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                },
                content: &m.content,
            })
            .collect();
        let mut env = Environment::new();
        env.add_template("chat", &self.template)?;
        env.get_template("chat")?
            .render(context! { messages => messages, add_generation_prompt => true })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, tokenizers::Error> {
        Ok(self.tokenizer.encode(text, false)?.get_ids().to_vec())
    }
}

/// The GPT-2 style byte-level BPE described by the GGUF metadata, with
/// SmolLM's single-digit splitting; control tokens are matched whole.
fn build_tokenizer(
    tokens: &[String],
    merges: &[String],
    token_types: &[i32],
) -> Result<Tokenizer, tokenizers::Error> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect();
    let merges = merges
        .iter()
        .filter_map(|merge| merge.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build()?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        PreTokenizerWrapper::Digits(Digits::new(true)),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(token_types)
        .filter(|(_, kind)| **kind == CONTROL_TOKEN)
        .map(|(token, _)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer.add_special_tokens(specials)?;
    Ok(tokenizer)
}
