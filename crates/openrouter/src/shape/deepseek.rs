//! DeepSeek V4 reasoning replay on verified routes: replayed assistant turns must carry
//! `reasoning_content`; with thinking off every `reasoning_content` is removed.

use serde_json::{json, Value};

fn has_tool_calls(message: &Value) -> bool {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty())
}

/// Thinking on (or unset): every assistant turn missing `reasoning_content` gets a copy of
/// its `reasoning` when it has one; turns without tool calls get `""` otherwise.
pub(crate) fn add_reasoning_content(messages: &mut [Value]) {
    for message in messages.iter_mut() {
        if message.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let tool_calls = has_tool_calls(message);
        let Some(obj) = message.as_object_mut() else {
            continue;
        };
        if obj.get("reasoning_content").is_some_and(Value::is_string) {
            continue;
        }
        let value = match obj.get("reasoning").and_then(Value::as_str) {
            Some(reasoning) => json!(reasoning),
            None if !tool_calls => json!(""),
            None => continue,
        };
        obj.insert("reasoning_content".into(), value);
    }
}

/// Thinking off: removes every `reasoning_content`.
pub(crate) fn strip_reasoning_content(messages: &mut [Value]) {
    for message in messages.iter_mut() {
        if let Some(obj) = message.as_object_mut() {
            obj.remove("reasoning_content");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_fills_missing_reasoning_content() {
        let mut m = vec![
            json!({"role": "user", "content": "q"}),
            json!({"role": "assistant", "content": "a"}),
            json!({"role": "assistant", "content": "b", "reasoning": "because"}),
            json!({"role": "assistant", "content": "c", "reasoning_content": "kept"}),
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "t"}]}),
            json!({"role": "assistant", "content": null, "reasoning": "r", "tool_calls": [{"id": "t2"}]}),
        ];
        add_reasoning_content(&mut m);
        assert_eq!(
            m,
            vec![
                json!({"role": "user", "content": "q"}),
                json!({"role": "assistant", "content": "a", "reasoning_content": ""}),
                json!({"role": "assistant", "content": "b", "reasoning": "because", "reasoning_content": "because"}),
                json!({"role": "assistant", "content": "c", "reasoning_content": "kept"}),
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "t"}]}),
                json!({"role": "assistant", "content": null, "reasoning": "r", "tool_calls": [{"id": "t2"}], "reasoning_content": "r"}),
            ]
        );
    }

    #[test]
    fn off_strips_every_reasoning_content() {
        let mut m = vec![
            json!({"role": "assistant", "content": "a", "reasoning_content": "x", "reasoning": "x"}),
            json!({"role": "user", "content": "b", "reasoning_content": "y"}),
        ];
        strip_reasoning_content(&mut m);
        assert_eq!(
            m,
            vec![
                json!({"role": "assistant", "content": "a", "reasoning": "x"}),
                json!({"role": "user", "content": "b"}),
            ]
        );
    }
}
