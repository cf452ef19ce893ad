//! Snippets: a short window of a hit's text around the first searched word, safe to put
//! into HTML as it is. The text is HTML-escaped, words matching a query term (ignoring
//! case and diacritics, as the full-text indexes do) are wrapped in `<mark>`…`</mark>`,
//! and a cut is shown as `…`. Made here rather than by FTS5 `snippet()` or PostgreSQL
//! `ts_headline()` so that both stores give the same snippets, escaping is done in one
//! place, and only the returned page is highlighted.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words shown before the first match.
const WORDS_BEFORE: usize = 8;
/// Words in a snippet.
const WORDS_IN_SNIPPET: usize = 32;

/// `word` lowercased without diacritics: "Été" → "ete".
pub(crate) fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `text` holds each of `terms` as a word, ignoring case and diacritics.
pub(crate) fn holds_every(text: &str, terms: &[String]) -> bool {
    let words: HashSet<String> = word_spans(text)
        .into_iter()
        .map(|(start, end)| fold(&text[start..end]))
        .collect();
    terms.iter().all(|term| words.contains(&fold(term)))
}

/// The snippet of `text` for a query whose words are `terms`.
pub(crate) fn snippet(text: &str, terms: &[String]) -> String {
    let wanted: Vec<String> = terms.iter().map(|t| fold(t)).collect();
    let words = word_spans(text);
    let is_hit = |&(start, end): &(usize, usize)| wanted.contains(&fold(&text[start..end]));
    let first_hit = words.iter().position(is_hit).unwrap_or(0);
    let first = first_hit.saturating_sub(WORDS_BEFORE);
    let last = (first + WORDS_IN_SNIPPET).min(words.len());
    let start = if first == 0 { 0 } else { words[first].0 };
    let end = if last == words.len() {
        text.len()
    } else {
        words[last - 1].1
    };
    let mut html = String::with_capacity(end - start + 16);
    if start > 0 {
        html.push('…');
    }
    let mut at = start;
    for span in &words[first..last] {
        if is_hit(span) {
            escape_into(&mut html, &text[at..span.0]);
            html.push_str("<mark>");
            escape_into(&mut html, &text[span.0..span.1]);
            html.push_str("</mark>");
            at = span.1;
        }
    }
    escape_into(&mut html, &text[at..end]);
    if end < text.len() {
        html.push('…');
    }
    html
}

/// Byte ranges of the runs of letters, digits and combining marks.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let in_word = c.is_alphanumeric() || is_combining_mark(c);
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

fn escape_into(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn marks_hits_ignoring_case_and_diacritics() {
        assert_eq!(
            snippet("Un Été à Paris, l'ete dernier", &terms(&["ete"])),
            "Un <mark>Été</mark> à Paris, l&#39;<mark>ete</mark> dernier"
        );
        assert_eq!(
            snippet("nothing matches", &terms(&["cat"])),
            "nothing matches"
        );
        assert_eq!(snippet("", &terms(&["cat"])), "");
    }

    #[test]
    fn a_text_holds_a_term_as_a_whole_word_ignoring_case_and_diacritics() {
        let text = "Un Été à Paris, avec l'ami Marc.";
        assert!(holds_every(text, &terms(&["ete", "PARIS", "marc", "l"])));
        assert!(holds_every(text, &[]));
        assert!(
            !holds_every(text, &terms(&["ete", "par"])),
            "a part of a word"
        );
        assert!(!holds_every(text, &terms(&["londres"])));
    }

    #[test]
    fn escapes_html_in_the_text_and_the_hit() {
        let text = "<script>alert('x')</script> & <b>cat</b>";
        let html = snippet(text, &terms(&["script", "cat"]));
        assert_eq!(
            html,
            "&lt;<mark>script</mark>&gt;alert(&#39;x&#39;)&lt;/<mark>script</mark>&gt; &amp; \
             &lt;b&gt;<mark>cat</mark>&lt;/b&gt;"
        );
        assert!(
            !html
                .replace("<mark>", "")
                .replace("</mark>", "")
                .contains('<')
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_first_hit() {
        let before: String = (0..50).map(|i| format!("w{i} ")).collect();
        let after: String = (0..50).map(|i| format!(" z{i}")).collect();
        let html = snippet(&format!("{before}needle{after}"), &terms(&["needle"]));
        assert!(html.starts_with("…w42 "), "{html}");
        assert!(html.contains("<mark>needle</mark>"));
        assert!(html.ends_with("z22…"), "{html}");
        assert_eq!(html.matches(' ').count(), WORDS_IN_SNIPPET - 1);
    }
}
