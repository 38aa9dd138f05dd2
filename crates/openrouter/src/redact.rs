//! Redaction of upstream text before it is shown anywhere: removes anything that looks
//! like an OpenRouter key (`sk-or-…`) and the request's own key value, and bounds length.

use serde_json::Value;

/// What replaces a redacted secret.
pub const REDACTED: &str = "[REDACTED]";

/// Longest upstream message kept (in characters); longer text is cut with `…`.
const MAX_MESSAGE_CHARS: usize = 1_000;

/// Redacts `text`: every `sk-or-…` token and every occurrence of `api_key` (when it is
/// non-empty) becomes `[REDACTED]`; the result is cut to a bounded length.
pub fn redact_text(text: &str, api_key: &str) -> String {
    let without_key = if api_key.trim().is_empty() {
        text.to_owned()
    } else {
        text.replace(api_key, REDACTED)
    };
    let redacted = redact_key_tokens(&without_key);
    truncate_chars(&redacted, MAX_MESSAGE_CHARS)
}

/// Redacts every string inside a JSON value (keys are kept).
pub fn redact_json(value: &Value, api_key: &str) -> Value {
    match value {
        Value::String(s) => Value::String(redact_text(s, api_key)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_json(v, api_key)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_json(v, api_key)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replaces `sk-or-` followed by key characters with `[REDACTED]`.
fn redact_key_tokens(text: &str) -> String {
    const PREFIX: &str = "sk-or-";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = find_ascii_case_insensitive(rest, PREFIX) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + PREFIX.len()..];
        let key_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        out.push_str(REDACTED);
        rest = &after[key_len..];
    }
    out.push_str(rest);
    out
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_openrouter_key_tokens() {
        assert_eq!(
            redact_text("bad key sk-or-v1-abc123_DEF-9 given", ""),
            "bad key [REDACTED] given"
        );
        assert_eq!(redact_text("SK-OR-V1-xyz", ""), "[REDACTED]");
        assert_eq!(redact_text("sk-or-", ""), "[REDACTED]");
    }

    #[test]
    fn redacts_the_key_value_itself() {
        assert_eq!(
            redact_text(
                "key my-custom-secret-key is invalid",
                "my-custom-secret-key"
            ),
            "key [REDACTED] is invalid"
        );
    }

    #[test]
    fn blank_key_does_not_redact_everything() {
        assert_eq!(redact_text("hello", "  "), "hello");
    }

    #[test]
    fn keeps_plain_text_and_multibyte() {
        assert_eq!(redact_text("é sk-or-1 ü", ""), "é [REDACTED] ü");
    }

    #[test]
    fn truncates_long_text() {
        let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
        let out = redact_text(&long, "");
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn redacts_nested_json_strings() {
        let v = json!({"raw": "{\"k\":\"sk-or-v1-aaa\"}", "list": ["secret123"], "n": 1});
        assert_eq!(
            redact_json(&v, "secret123"),
            json!({"raw": "{\"k\":\"[REDACTED]\"}", "list": ["[REDACTED]"], "n": 1})
        );
    }
}
