//! Turning generated tokens into streamed text: whole UTF-8 characters only,
//! and never a piece of a stop sequence.

/// Accumulates reply text and releases what is safe to show.
pub(crate) struct StopFilter {
    stops: Vec<String>,
    /// Text received but not released: it may be the start of a stop sequence.
    pending: String,
}

/// What [`StopFilter::push`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Filtered {
    /// Text safe to emit (may be empty); generation goes on.
    Continue(String),
    /// A stop sequence appeared: emit this text, then stop.
    Stop(String),
}

impl StopFilter {
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> Filtered {
        self.pending.push_str(text);
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min();
        if let Some(at) = first_stop {
            self.pending.truncate(at);
            return Filtered::Stop(std::mem::take(&mut self.pending));
        }
        let held = self.longest_stop_prefix_suffix();
        let release = self.pending.len() - held;
        let released = self.pending[..release].to_owned();
        self.pending.drain(..release);
        Filtered::Continue(released)
    }

    /// Whatever is held back, once generation ends without a stop sequence.
    pub fn finish(self) -> String {
        self.pending
    }

    /// Length of the longest end of `pending` that begins some stop sequence.
    fn longest_stop_prefix_suffix(&self) -> usize {
        self.pending
            .char_indices()
            .map(|(at, _)| at)
            .find(|&at| {
                let tail = &self.pending[at..];
                self.stops.iter().any(|stop| stop.starts_with(tail))
            })
            .map_or(0, |at| self.pending.len() - at)
    }
}

/// Decodes tokens one at a time into text, holding back bytes of a
/// character split across tokens.
pub(crate) struct Detokenizer {
    tokens: Vec<u32>,
    /// Text already released, as decoded from `tokens`.
    released: usize,
}

impl Detokenizer {
    pub fn new() -> Self {
        Self {
            tokens: Vec::new(),
            released: 0,
        }
    }

    /// The text the new token completes (possibly empty).
    pub fn push(
        &mut self,
        tokenizer: &tokenizers::Tokenizer,
        token: u32,
    ) -> Result<String, tokenizers::Error> {
        self.tokens.push(token);
        let text = tokenizer.decode(&self.tokens, true)?;
        if text.ends_with('\u{FFFD}') || text.len() < self.released {
            return Ok(String::new());
        }
        let new = text[self.released..].to_owned();
        self.released = text.len();
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn text_without_stops_passes_through() {
        let mut filter = StopFilter::new(&[]);
        assert_eq!(filter.push("Hello"), Filtered::Continue("Hello".into()));
        assert_eq!(filter.finish(), "");
    }

    #[test]
    fn a_possible_stop_prefix_is_held_until_it_is_decided() {
        let mut filter = StopFilter::new(&stops(&["User:"]));
        assert_eq!(filter.push("Hi Us"), Filtered::Continue("Hi ".into()));
        assert_eq!(filter.push("ually"), Filtered::Continue("Usually".into()));
        assert_eq!(filter.push(" ok\nUse"), Filtered::Continue(" ok\n".into()));
        assert_eq!(filter.push("r: next"), Filtered::Stop("".into()));
    }

    #[test]
    fn the_text_before_a_stop_is_released() {
        let mut filter = StopFilter::new(&stops(&["END", "\n\n"]));
        assert_eq!(filter.push("done.\n\nmore"), Filtered::Stop("done.".into()));
    }

    #[test]
    fn held_text_is_returned_at_the_end() {
        let mut filter = StopFilter::new(&stops(&["STOP"]));
        assert_eq!(filter.push("ST"), Filtered::Continue("".into()));
        assert_eq!(filter.finish(), "ST");
    }
}

/// Follows a JSON reply as it is generated, to stop the model as soon as the answer is
/// known: prose where the JSON should start (a small model often answers so), or the
/// close of its value (it tends to go on talking after the closing brace).
#[derive(Debug, Default)]
pub(crate) struct JsonEnd {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What [`JsonEnd::push`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonProgress {
    /// Nothing yet, or a value still open.
    Open,
    /// The top-level object or array closed after this many bytes of the text pushed.
    Closed(usize),
    /// The reply does not start with an object or an array.
    NotJson,
}

impl JsonEnd {
    pub fn push(&mut self, text: &str) -> JsonProgress {
        for (at, c) in text.char_indices() {
            if self.in_string {
                match c {
                    _ if self.escaped => self.escaped = false,
                    '\\' => self.escaped = true,
                    '"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '{' | '[' => self.depth += 1,
                _ if self.depth == 0 && !c.is_whitespace() => return JsonProgress::NotJson,
                '"' => self.in_string = true,
                '}' | ']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return JsonProgress::Closed(at + 1);
                    }
                }
                _ => {}
            }
        }
        JsonProgress::Open
    }
}

#[cfg(test)]
mod json_end_tests {
    use super::{JsonEnd, JsonProgress};

    #[test]
    fn the_end_is_the_close_of_the_top_level_value_whatever_the_pieces() {
        let mut end = JsonEnd::default();
        assert_eq!(end.push(" \n{\"a\": [1, {\"b\""), JsonProgress::Open);
        assert_eq!(
            end.push(": \"}\\\"]\"}]"),
            JsonProgress::Open,
            "braces in strings do not count"
        );
        assert_eq!(end.push("} and then some prose"), JsonProgress::Closed(1));
    }

    #[test]
    fn an_array_ends_too_and_prose_first_is_not_json() {
        assert_eq!(JsonEnd::default().push("[1, 2]\n"), JsonProgress::Closed(6));
        let mut end = JsonEnd::default();
        assert_eq!(end.push("  "), JsonProgress::Open);
        assert_eq!(end.push("Sure! {\"a\": 1}"), JsonProgress::NotJson);
    }
}
