//! Parsing of a non-streaming chat completion body (HTTP 200) into a [`ChatOutcome`],
//! including HTTP-200 bodies that carry an `error` or `choices[].error`.

use ferry_types::UsageObject;
use serde_json::Value;

use crate::error::{ErrorContext, UpstreamError};
use crate::outcome::ReplyParts;
use crate::types::ChatOutcome;

/// The failure described by the top-level `error` of an HTTP 200 body: its `code` is
/// treated as the HTTP status when it is one (400–599), else it is a provider failure.
pub(crate) fn body_error(error: &Value, body: &[u8], ctx: ErrorContext<'_>) -> UpstreamError {
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c));
    match status {
        Some(status) => UpstreamError::from_http(status, None, body, ctx),
        None => UpstreamError::choice_error(error, false, ctx),
    }
}

/// Parses a complete `chat.completion` body.
pub(crate) fn parse_completion(
    body: &[u8],
    ctx: ErrorContext<'_>,
) -> Result<ChatOutcome, UpstreamError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        UpstreamError::protocol(&format!("body is not valid JSON ({e})"), false, ctx)
    })?;
    if let Some(error) = v.get("error").filter(|e| !e.is_null()) {
        return Err(body_error(error, body, ctx));
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| UpstreamError::protocol("response has no choices", false, ctx))?;
    if let Some(error) = choice.get("error").filter(|e| !e.is_null()) {
        return Err(UpstreamError::choice_error(error, false, ctx));
    }
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| UpstreamError::protocol("choice has no message", false, ctx))?;

    let (content, content_parts) = match message.get("content") {
        Some(Value::String(s)) => (s.clone(), None),
        Some(Value::Array(parts)) => (
            parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<String>(),
            Some(Value::Array(parts.clone())),
        ),
        _ => (String::new(), None),
    };
    let tool_calls: Vec<Value> = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, call) in tool_calls.iter().enumerate() {
        let named = call
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .is_some();
        if !named || call.get("id").and_then(Value::as_str).is_none() {
            return Err(UpstreamError::protocol(
                &format!("tool call {i} lacks an id or function name"),
                false,
                ctx,
            ));
        }
    }
    let string_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let mut outcome = ReplyParts {
        content,
        reasoning: string_of(message.get("reasoning")).filter(|r| !r.is_empty()),
        reasoning_details: message
            .get("reasoning_details")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        tool_calls,
        images: message
            .get("images")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        finish_reason: string_of(choice.get("finish_reason")),
        usage: v
            .get("usage")
            .and_then(UsageObject::from_value)
            .map(Into::into),
        model: string_of(v.get("model")),
        provider: string_of(v.get("provider")),
        id: string_of(v.get("id")),
    }
    .into_outcome();
    if let (Some(parts), Some(msg)) = (content_parts, outcome.message.as_object_mut()) {
        msg.insert("content".into(), parts);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpstreamErrorKind;
    use serde_json::json;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "google/gemini-3.1-flash-image-preview",
        api_key: "sk-or-v1-abc",
    };

    fn parse(v: Value) -> Result<ChatOutcome, UpstreamError> {
        parse_completion(v.to_string().as_bytes(), CTX)
    }

    #[test]
    fn full_message_with_reasoning_tools_images_usage() {
        let details = json!([{"type": "reasoning.text", "text": "hm", "index": 0}]);
        let call = json!({"id": "call_1", "type": "function", "function": {"name": "emit_output", "arguments": "{\"content\":\"x\"}"}});
        let image =
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}});
        let out = parse(json!({
            "id": "gen-9", "object": "chat.completion", "model": "google/gemini-3.1-flash-image-preview",
            "provider": "Google",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "native_finish_reason": "STOP",
                "message": {"role": "assistant", "content": "here", "reasoning": "hm", "reasoning_details": details,
                    "tool_calls": [call], "images": [image], "refusal": null}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.5}
        }))
        .unwrap();
        assert_eq!(out.content, "here");
        assert_eq!(out.reasoning.as_deref(), Some("hm"));
        assert_eq!(out.tool_calls[0].name, "emit_output");
        assert_eq!(out.cost, Some(0.5));
        assert_eq!(out.generation_id.as_deref(), Some("gen-9"));
        assert_eq!(out.provider.as_deref(), Some("Google"));
        assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            out.message,
            json!({"role": "assistant", "content": "here", "reasoning": "hm", "reasoning_details": details,
                "tool_calls": [call], "images": [image]})
        );
    }

    #[test]
    fn reasoning_only_is_success() {
        let out = parse(json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": null, "reasoning": "just thinking"}}]})).unwrap();
        assert_eq!(out.content, "");
        assert_eq!(out.reasoning.as_deref(), Some("just thinking"));
    }

    #[test]
    fn content_parts_are_joined_and_kept() {
        let parts = json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]);
        let out = parse(json!({"choices": [{"message": {"role": "assistant", "content": parts}}]}))
            .unwrap();
        assert_eq!(out.content, "ab");
        assert_eq!(out.message["content"], parts);
    }

    #[test]
    fn choices_error_in_200() {
        let e = parse(json!({"choices": [{"finish_reason": "error", "message": {"role": "assistant", "content": ""},
            "error": {"code": 502, "message": "provider crashed"}}]}))
        .unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::ChoiceError);
        assert!(e.message.contains("provider crashed"));
        assert!(e.advances_fallback());
    }

    #[test]
    fn error_body_in_200() {
        let e = parse(json!({"error": {"code": 429, "message": "slow down"}})).unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::RateLimited);
        let e = parse(json!({"error": {"code": "weird", "message": "odd"}})).unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::ChoiceError);
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(
            parse_completion(b"{not json", CTX).unwrap_err().kind,
            UpstreamErrorKind::Protocol
        );
        assert_eq!(
            parse(json!({"choices": []})).unwrap_err().kind,
            UpstreamErrorKind::Protocol
        );
        assert_eq!(
            parse(json!({"choices": [{"index": 0}]})).unwrap_err().kind,
            UpstreamErrorKind::Protocol
        );
        let e = parse(json!({"choices": [{"message": {"role": "assistant", "tool_calls": [{"function": {}}]}}]})).unwrap_err();
        assert_eq!(e.kind, UpstreamErrorKind::Protocol);
    }
}
