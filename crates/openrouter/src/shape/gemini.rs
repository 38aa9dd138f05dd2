//! Gemini thought-signature sanitation on verified routes: replayed assistant tool calls
//! keep only signatures that are valid base64 (`reasoning_details[]` entries of type
//! `reasoning.encrypted`, and `tool_calls[].extra_content.google.thought_signature`).

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::Value;

const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether `value` is a non-empty standard-alphabet base64 string (padding optional).
fn is_valid_signature(value: &Value) -> bool {
    match value.as_str() {
        Some(s) if !s.is_empty() => LENIENT_STANDARD.decode(s).is_ok(),
        _ => false,
    }
}

/// Sanitizes every assistant message that carries tool calls.
pub(crate) fn sanitize_thought_signatures(messages: &mut [Value]) {
    for message in messages.iter_mut() {
        if message.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(obj) = message.as_object_mut() else {
            continue;
        };
        let has_calls = obj
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if !has_calls {
            continue;
        }
        if let Some(Value::Array(calls)) = obj.get_mut("tool_calls") {
            calls.iter_mut().for_each(sanitize_tool_call);
        }
        if let Some(Value::Array(details)) = obj.get_mut("reasoning_details") {
            details.retain(|d| {
                d.get("type").and_then(Value::as_str) != Some("reasoning.encrypted")
                    || d.get("data").is_some_and(is_valid_signature)
            });
        }
    }
}

/// Removes an invalid `extra_content.google.thought_signature`, pruning emptied objects.
fn sanitize_tool_call(call: &mut Value) {
    let Some(extra) = call.get_mut("extra_content").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(google) = extra.get_mut("google").and_then(Value::as_object_mut) else {
        return;
    };
    if google
        .get("thought_signature")
        .is_some_and(|s| !is_valid_signature(s))
    {
        google.remove("thought_signature");
    }
    if google.is_empty() {
        extra.remove("google");
    }
    if extra.is_empty() {
        if let Some(obj) = call.as_object_mut() {
            obj.remove("extra_content");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signature_validity() {
        assert!(is_valid_signature(&json!("c2lnbmF0dXJl")));
        assert!(is_valid_signature(&json!("c2lnbmF0dXJlMQ==")));
        assert!(is_valid_signature(&json!("c2lnbmF0dXJlMQ")));
        assert!(!is_valid_signature(&json!("")));
        assert!(!is_valid_signature(&json!("not base64!")));
        assert!(!is_valid_signature(&json!(
            "skip_thought_signature_validator"
        )));
        assert!(!is_valid_signature(&json!(42)));
    }

    #[test]
    fn drops_invalid_signatures_keeps_valid_ones() {
        let mut m = vec![json!({
            "role": "assistant", "content": null,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"},
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"},
                 "extra_content": {"google": {"thought_signature": "%%bad%%"}}},
                {"id": "c", "type": "function", "function": {"name": "h", "arguments": "{}"},
                 "extra_content": {"google": {"thought_signature": "%%bad%%", "other": 1}}}
            ],
            "reasoning_details": [
                {"type": "reasoning.encrypted", "id": "a", "data": "c2ln", "format": "google-gemini-v1"},
                {"type": "reasoning.encrypted", "id": "b", "data": "not*base64", "format": "google-gemini-v1"},
                {"type": "reasoning.text", "text": "kept"}
            ]
        })];
        sanitize_thought_signatures(&mut m);
        assert_eq!(
            m[0],
            json!({
                "role": "assistant", "content": null,
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"},
                     "extra_content": {"google": {"thought_signature": "c2ln"}}},
                    {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                    {"id": "c", "type": "function", "function": {"name": "h", "arguments": "{}"},
                     "extra_content": {"google": {"other": 1}}}
                ],
                "reasoning_details": [
                    {"type": "reasoning.encrypted", "id": "a", "data": "c2ln", "format": "google-gemini-v1"},
                    {"type": "reasoning.text", "text": "kept"}
                ]
            })
        );
    }

    #[test]
    fn messages_without_tool_calls_are_untouched() {
        let original = vec![
            json!({"role": "assistant", "content": "x", "reasoning_details": [{"type": "reasoning.encrypted", "data": "!!"}]}),
            json!({"role": "user", "content": "y"}),
        ];
        let mut m = original.clone();
        sanitize_thought_signatures(&mut m);
        assert_eq!(m, original);
    }
}
