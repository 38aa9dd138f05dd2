//! Keeps the route's own API key out of what a successful chat reply puts in history,
//! run events and answers on the sessions path (the facade's pass-through does the same
//! on its bytes): a compromised or echoing upstream can send the key back in a 200 reply.
//! Streamed deltas are scrubbed even when the key is split across them — the end of the
//! text that could still become the key is held back until the next delta shows it does
//! not (or the stream ends).

use serde_json::Value;

use crate::redact::REDACTED;
use crate::types::{ChatOutcome, StreamEvent};

/// Scrubs streamed text and reasoning deltas (tool-call arguments are scrubbed per
/// delta, and completely in the final outcome).
pub(crate) struct DeltaScrubber<'k> {
    key: &'k str,
    text: String,
    reasoning: String,
}

impl<'k> DeltaScrubber<'k> {
    pub(crate) fn new(key: &'k str) -> Self {
        DeltaScrubber {
            key: key.trim(),
            text: String::new(),
            reasoning: String::new(),
        }
    }

    /// The event to forward now, if any of it is safe to show yet.
    pub(crate) fn pass(&mut self, event: StreamEvent) -> Option<StreamEvent> {
        if self.key.is_empty() {
            return Some(event);
        }
        match event {
            StreamEvent::Text(t) => {
                nonempty(scrub_delta(&mut self.text, &t, self.key)).map(StreamEvent::Text)
            }
            StreamEvent::Reasoning(t) => {
                nonempty(scrub_delta(&mut self.reasoning, &t, self.key)).map(StreamEvent::Reasoning)
            }
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => Some(StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments: arguments.replace(self.key, REDACTED),
            }),
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

/// Appends `delta` to `pending`, replaces the key, and returns all but the longest tail
/// that is a proper prefix of the key (kept in `pending`).
fn scrub_delta(pending: &mut String, delta: &str, key: &str) -> String {
    pending.push_str(delta);
    let replaced = pending.replace(key, REDACTED);
    let hold = (1..key.len().min(replaced.len() + 1))
        .rev()
        .find(|&n| replaced.is_char_boundary(replaced.len() - n) && replaced.ends_with(&key[..n]))
        .unwrap_or(0);
    let cut = replaced.len() - hold;
    *pending = replaced[cut..].to_owned();
    replaced[..cut].to_owned()
}

/// Removes the key from every string of a finished reply.
pub(crate) fn scrub_outcome(outcome: &mut ChatOutcome, key: &str) {
    let key = key.trim();
    if key.is_empty() {
        return;
    }
    scrub_json(&mut outcome.message, key);
    outcome.content = outcome.content.replace(key, REDACTED);
    if let Some(r) = &mut outcome.reasoning {
        *r = r.replace(key, REDACTED);
    }
    for call in &mut outcome.tool_calls {
        call.arguments = call.arguments.replace(key, REDACTED);
        call.name = call.name.replace(key, REDACTED);
    }
}

fn scrub_json(value: &mut Value, key: &str) {
    match value {
        Value::String(s) if s.contains(key) => *s = s.replace(key, REDACTED),
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
        let mut s = DeltaScrubber::new(KEY);
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
