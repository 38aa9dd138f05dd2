//! Keeps the route's own API key out of what a successful chat reply puts in history,
//! run events and answers on the sessions path (the facade's pass-through does the same
//! on its bytes): a compromised or echoing upstream can send the key back in a 200 reply.
//! Streamed deltas are scrubbed even when the key is split across them — the end of the
//! text that could still become the key is held back until the next delta shows it does
//! not (or the stream ends).

use memchr::memmem::Finder;
use serde_json::Value;

use crate::redact::REDACTED;
use crate::types::{ChatOutcome, StreamEvent};

/// Scrubs streamed text and reasoning deltas (tool-call arguments are scrubbed per
/// delta, and completely in the final outcome).
pub(crate) struct DeltaScrubber<'k> {
    key: Key<'k>,
    text: String,
    reasoning: String,
}

impl<'k> DeltaScrubber<'k> {
    pub(crate) fn new(key: &'k str) -> Self {
        DeltaScrubber {
            key: Key::new(key),
            text: String::new(),
            reasoning: String::new(),
        }
    }

    /// The event to forward now, if any of it is safe to show yet.
    pub(crate) fn pass(&mut self, event: StreamEvent) -> Option<StreamEvent> {
        if self.key.text.is_empty() {
            return Some(event);
        }
        match event {
            StreamEvent::Text(t) => {
                nonempty(self.key.scrub_delta(&mut self.text, t)).map(StreamEvent::Text)
            }
            StreamEvent::Reasoning(t) => {
                nonempty(self.key.scrub_delta(&mut self.reasoning, t)).map(StreamEvent::Reasoning)
            }
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                mut arguments,
            } => {
                self.key.scrub(&mut arguments);
                Some(StreamEvent::ToolCallDelta {
                    index,
                    id,
                    name,
                    arguments,
                })
            }
            StreamEvent::Generation(_) | StreamEvent::Usage(_) => Some(event),
        }
    }

    /// What was held back, at the end of the stream.
    pub(crate) fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if let Some(t) = nonempty(std::mem::take(&mut self.reasoning)) {
            out.push(StreamEvent::Reasoning(t));
        }
        if let Some(t) = nonempty(std::mem::take(&mut self.text)) {
            out.push(StreamEvent::Text(t));
        }
        out
    }
}

fn nonempty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// The route key (trimmed) and its searcher, built once per reply.
struct Key<'k> {
    text: &'k str,
    finder: Finder<'k>,
}

impl<'k> Key<'k> {
    fn new(key: &'k str) -> Self {
        let text = key.trim();
        Key {
            text,
            finder: Finder::new(text),
        }
    }

    /// Replaces the key in `text`, which is rewritten only when it holds the key.
    fn scrub(&self, text: &mut String) {
        // Shorter than the key, it cannot hold it (most deltas are a few characters).
        if text.len() >= self.text.len() && self.finder.find(text.as_bytes()).is_some() {
            *text = text.replace(self.text, REDACTED);
        }
    }

    /// Appends `delta` to `pending`, replaces the key, and returns all but the longest
    /// tail that is a proper prefix of the key (kept in `pending`).
    ///
    /// Every delta of a session's answer passes here, so the common case costs no copy:
    /// with nothing held back, no key in it and no tail to hold, the delta itself is
    /// returned.
    fn scrub_delta(&self, pending: &mut String, delta: String) -> String {
        let mut text = if pending.is_empty() {
            delta
        } else {
            let mut text = std::mem::take(pending);
            text.push_str(&delta);
            text
        };
        self.scrub(&mut text);
        let cut = text.len() - self.held_tail(&text);
        *pending = text[cut..].to_owned();
        text.truncate(cut);
        text
    }

    /// The length of the longest tail of `text` that is a proper prefix of the key (0:
    /// none). The earliest start is the longest tail, and only a byte equal to the key's
    /// first can start one. That byte begins a character in any UTF-8 text (an ASCII byte
    /// or a lead byte, never a continuation byte), so the tail starts on a character
    /// boundary.
    fn held_tail(&self, text: &str) -> usize {
        let (bytes, key) = (text.as_bytes(), self.text.as_bytes());
        let Some(&first) = key.first() else {
            return 0;
        };
        let from = bytes.len() - (key.len() - 1).min(bytes.len());
        (from..bytes.len())
            .find(|&at| bytes[at] == first && key.starts_with(&bytes[at..]))
            .map_or(0, |at| bytes.len() - at)
    }
}

/// Removes the key from every string of a finished reply.
pub(crate) fn scrub_outcome(outcome: &mut ChatOutcome, key: &str) {
    let key = Key::new(key);
    if key.text.is_empty() {
        return;
    }
    scrub_json(&mut outcome.message, &key);
    key.scrub(&mut outcome.content);
    if let Some(r) = &mut outcome.reasoning {
        key.scrub(r);
    }
    for call in &mut outcome.tool_calls {
        key.scrub(&mut call.arguments);
        key.scrub(&mut call.name);
    }
}

fn scrub_json(value: &mut Value, key: &Key<'_>) {
    match value {
        Value::String(s) => key.scrub(s),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_json(v, key)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_json(v, key)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "sk-or-v1-abcdef";

    fn stream(deltas: &[&str]) -> String {
        stream_with(KEY, deltas)
    }

    /// What a client sees of `deltas` streamed through a scrubber of `key`.
    fn stream_with(key: &str, deltas: &[&str]) -> String {
        let mut s = DeltaScrubber::new(key);
        let mut out = String::new();
        for d in deltas {
            if let Some(StreamEvent::Text(t)) = s.pass(StreamEvent::Text((*d).into())) {
                out.push_str(&t);
            }
        }
        for e in s.finish() {
            if let StreamEvent::Text(t) = e {
                out.push_str(&t);
            }
        }
        out
    }

    #[test]
    fn a_key_split_across_deltas_is_scrubbed() {
        assert_eq!(
            stream(&["your key is sk-", "or-v1-ab", "cdef, enjoy"]),
            "your key is [REDACTED], enjoy"
        );
        assert_eq!(stream(&["sk-or-v1-abcdef"]), "[REDACTED]");
        assert_eq!(stream(&["ends with s", "k-or"]), "ends with sk-or");
        assert_eq!(stream(&["plain ", "text é"]), "plain text é");
    }

    #[test]
    fn held_back_text_waits_only_while_it_could_be_the_key() {
        let mut s = DeltaScrubber::new(KEY);
        assert_eq!(
            s.pass(StreamEvent::Text("task".into())),
            Some(StreamEvent::Text("ta".into()))
        );
        assert_eq!(
            s.pass(StreamEvent::Text(" done".into())),
            Some(StreamEvent::Text("sk done".into()))
        );
        assert!(s.finish().is_empty());
    }

    /// The scrubber as first written: append, replace, then try every tail length.
    fn scrub_delta_reference(pending: &mut String, delta: &str, key: &str) -> String {
        pending.push_str(delta);
        let replaced = pending.replace(key, REDACTED);
        let hold = (1..key.len().min(replaced.len() + 1))
            .rev()
            .find(|&n| {
                replaced.is_char_boundary(replaced.len() - n) && replaced.ends_with(&key[..n])
            })
            .unwrap_or(0);
        let cut = replaced.len() - hold;
        *pending = replaced[cut..].to_owned();
        replaced[..cut].to_owned()
    }

    #[test]
    fn the_scrubber_answers_as_the_straightforward_one_does() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Pieces that build keys, near-keys, repeats and multi-byte text.
        let pieces = [
            "a",
            "b",
            "ab-a",
            "sk-",
            "or-",
            "v1-",
            "ab",
            "cdef",
            "s",
            "k",
            "-",
            "é",
            "ß",
            "x",
            " ",
            "sk-or-v1-abcdef",
            "sk-or-v1-abcde",
            "ssk-",
            "",
        ];
        // ASCII keys only: with a multi-byte key the reference slices `key[..n]` inside a
        // character and panics (see the next test).
        for key in [KEY, "s", "sk", "ab-ab", "a-a"] {
            for _ in 0..3000 {
                let (mut fast, mut slow) = (String::new(), String::new());
                let (mut fast_out, mut slow_out) = (String::new(), String::new());
                for _ in 0..rng.gen_range(1..8) {
                    let delta: String = (0..rng.gen_range(0..5))
                        .map(|_| pieces[rng.gen_range(0..pieces.len())])
                        .collect();
                    let f = Key::new(key).scrub_delta(&mut fast, delta.clone());
                    let s = scrub_delta_reference(&mut slow, &delta, key);
                    assert_eq!((&f, &fast), (&s, &slow), "key {key:?}, delta {delta:?}");
                    fast_out.push_str(&f);
                    slow_out.push_str(&s);
                }
                assert_eq!(fast_out + &fast, slow_out + &slow);
            }
        }
    }

    #[test]
    fn a_key_with_multi_byte_characters_is_scrubbed_across_deltas() {
        assert_eq!(
            stream_with("clé-ß-99", &["the cl", "é-", "ß-9", "9 and cl", "éf"]),
            "the [REDACTED] and cléf"
        );
        assert_eq!(
            stream_with("ß-ß", &["aß", "-", "ß ß", "-x ß"]),
            "a[REDACTED] ß-x ß"
        );
    }

    #[test]
    fn outcomes_lose_the_key_everywhere() {
        let mut o = ChatOutcome {
            message: json!({"role": "assistant", "content": format!("k={KEY}"), "x": [KEY]}),
            content: format!("k={KEY}"),
            reasoning: Some(KEY.into()),
            ..ChatOutcome::default()
        };
        scrub_outcome(&mut o, KEY);
        assert!(!serde_json::to_string(&o).unwrap().contains(KEY));
        assert_eq!(o.content, "k=[REDACTED]");
    }
}
