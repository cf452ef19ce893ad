//! JSON built from fuzzer bytes, with the words the server's parsers look for, so
//! mutations reach past "unknown field" into the handlers.

use arbitrary::Arbitrary;
use serde_json::{Map, Number, Value};

/// Field names and values the routes read (the wire contract's, and odd ones).
const WORDS: [&str; 56] = [
    "name",
    "content",
    "message",
    "session_id",
    "conversation_id",
    "ollama_model",
    "model",
    "active",
    "stream",
    "id",
    "locrit",
    "locrit_name",
    "description",
    "persona",
    "open_to",
    "access_to",
    "humans",
    "internet",
    "public_page",
    "messages",
    "role",
    "query",
    "q",
    "limit",
    "before",
    "after",
    "status",
    "username",
    "password",
    "scope",
    "scopes",
    "yaml",
    "tags",
    "importance",
    "pinned",
    "topic",
    "metadata",
    "user_id",
    "turn_id",
    "locrits",
    "max_turns",
    "text",
    "type",
    "new_name",
    "default_model",
    "base_url",
    "user",
    "assistant",
    "system",
    "Bob",
    "llama3.2",
    "",
    "../",
    "-1",
    "9999999999999999999999",
    "\u{0}",
];

#[derive(Arbitrary, Debug)]
pub(crate) enum Text {
    Word(u8),
    Any(String),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match self {
            Text::Word(i) => WORDS[usize::from(*i) % WORDS.len()],
            Text::Any(text) => text,
        }
    }
}

#[derive(Arbitrary, Debug)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Text),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

/// Deeper than any route reads; deep nesting itself is the hostile-input table's case.
const MAX_DEPTH: usize = 8;

impl Json {
    pub fn to_value(&self) -> Value {
        self.at_depth(0)
    }

    fn at_depth(&self, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => Value::from(*i),
            Json::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(text) => Value::from(text.as_str()),
            Json::Array(items) => items.iter().map(|i| i.at_depth(depth + 1)).collect(),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.at_depth(depth + 1)))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}
