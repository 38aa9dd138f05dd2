//! Anthropic shaping on verified routes: prompt-cache markers on system/developer messages
//! and removal of trailing assistant prefill when reasoning is on.

use ferry_config::CacheControlTtl;
use serde_json::{json, Value};

/// Puts `cache_control` on the last non-empty text block of every system/developer
/// message (string content becomes a one-part text array). No markers for `ttl = none`.
pub(crate) fn add_cache_markers(messages: &mut [Value], ttl: Option<CacheControlTtl>) {
    let marker = match ttl {
        Some(CacheControlTtl::None) => return,
        Some(CacheControlTtl::OneHour) => json!({"type": "ephemeral", "ttl": "1h"}),
        Some(CacheControlTtl::FiveMinutes) | None => json!({"type": "ephemeral"}),
    };
    for message in messages.iter_mut() {
        let role = message.get("role").and_then(Value::as_str);
        if !matches!(role, Some("system" | "developer")) {
            continue;
        }
        let Some(content) = message.get_mut("content") else {
            continue;
        };
        match content {
            Value::String(text) if !text.is_empty() => {
                *content = json!([{"type": "text", "text": text, "cache_control": marker}]);
            }
            Value::Array(parts) => {
                let last_text = parts.iter_mut().rev().find(|p| {
                    p.get("type").and_then(Value::as_str) == Some("text")
                        && p.get("text")
                            .and_then(Value::as_str)
                            .is_some_and(|t| !t.is_empty())
                });
                if let Some(Value::Object(part)) = last_text {
                    part.insert("cache_control".into(), marker.clone());
                }
            }
            _ => {}
        }
    }
}

/// Drops trailing assistant messages that carry no tool calls (a prefill, which
/// Anthropic rejects when reasoning is on).
pub(crate) fn drop_trailing_prefill(messages: &mut Vec<Value>) {
    while let Some(last) = messages.last() {
        let is_assistant = last.get("role").and_then(Value::as_str) == Some("assistant");
        let has_tool_calls = last
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if is_assistant && !has_tool_calls {
            messages.pop();
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_system_content_becomes_marked_text_part() {
        let mut m = vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "user", "content": "hi"}),
        ];
        add_cache_markers(&mut m, None);
        assert_eq!(
            m,
            vec![
                json!({"role": "system", "content": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]}),
                json!({"role": "user", "content": "hi"}),
            ]
        );
    }

    #[test]
    fn every_system_and_developer_message_gets_one_marker_on_last_text() {
        let mut m = vec![
            json!({"role": "system", "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
                {"type": "text", "text": ""},
                {"type": "reasoning", "text": "not me"}
            ]}),
            json!({"role": "developer", "content": "dev"}),
            json!({"role": "assistant", "content": "not me either"}),
        ];
        add_cache_markers(&mut m, Some(CacheControlTtl::OneHour));
        let one_hour = json!({"type": "ephemeral", "ttl": "1h"});
        assert_eq!(
            m[0],
            json!({"role": "system", "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b", "cache_control": one_hour},
                {"type": "text", "text": ""},
                {"type": "reasoning", "text": "not me"}
            ]})
        );
        assert_eq!(
            m[1],
            json!({"role": "developer", "content": [{"type": "text", "text": "dev", "cache_control": one_hour}]})
        );
        assert_eq!(
            m[2],
            json!({"role": "assistant", "content": "not me either"})
        );
    }

    #[test]
    fn five_minute_ttl_is_default_marker_and_none_means_no_marker() {
        let original = vec![json!({"role": "system", "content": "x"})];
        let mut m = original.clone();
        add_cache_markers(&mut m, Some(CacheControlTtl::FiveMinutes));
        assert_eq!(
            m[0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        let mut m = original.clone();
        add_cache_markers(&mut m, Some(CacheControlTtl::None));
        assert_eq!(m, original);
    }

    #[test]
    fn empty_or_non_text_system_content_is_left_alone() {
        let original = vec![
            json!({"role": "system", "content": ""}),
            json!({"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}),
            json!({"role": "system"}),
        ];
        let mut m = original.clone();
        add_cache_markers(&mut m, None);
        assert_eq!(m, original);
    }

    #[test]
    fn prefill_removal_keeps_tool_call_turns() {
        let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c"}]});
        let mut m = vec![
            json!({"role": "user", "content": "q"}),
            call.clone(),
            json!({"role": "assistant", "content": "pre"}),
            json!({"role": "assistant", "content": "fill", "tool_calls": []}),
        ];
        drop_trailing_prefill(&mut m);
        assert_eq!(m, vec![json!({"role": "user", "content": "q"}), call]);
    }
}
