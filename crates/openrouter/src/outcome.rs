//! Assembly of a [`ChatOutcome`] (and the assistant history message inside it) from the
//! parts of a reply, shared by the streaming and the non-streaming parsers.

use std::sync::Arc;

use ferry_types::UsageObject;
use serde_json::{json, Map, Value};

use crate::types::{ChatOutcome, ToolCall};

/// Everything a reply consisted of, before assembly.
#[derive(Debug, Default)]
pub(crate) struct ReplyParts {
    pub content: String,
    pub reasoning: Option<String>,
    pub reasoning_details: Vec<Value>,
    /// Complete tool calls in wire form (`{id, type, function: {name, arguments}, …}`).
    pub tool_calls: Vec<Value>,
    pub images: Vec<Value>,
    pub finish_reason: Option<String>,
    pub usage: Option<Arc<UsageObject>>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub id: Option<String>,
}

impl ReplyParts {
    /// Builds the outcome; `None` content becomes `""` (or `null` next to tool calls).
    pub fn into_outcome(self) -> ChatOutcome {
        let tool_calls: Vec<ToolCall> = self.tool_calls.iter().filter_map(tool_call_of).collect();
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if self.content.is_empty() && !tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(self.content.clone())
        };
        message.insert("content".into(), content);
        if let Some(r) = &self.reasoning {
            message.insert("reasoning".into(), json!(r));
        }
        if !self.reasoning_details.is_empty() {
            message.insert(
                "reasoning_details".into(),
                Value::Array(self.reasoning_details),
            );
        }
        if !self.tool_calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(self.tool_calls));
        }
        if !self.images.is_empty() {
            message.insert("images".into(), Value::Array(self.images));
        }
        let cost = self.usage.as_ref().and_then(|u| u.cost());
        ChatOutcome {
            message: Value::Object(message),
            content: self.content,
            reasoning: self.reasoning,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage,
            cost,
            model: self.model,
            provider: self.provider,
            generation_id: self.id,
            cache_status: None,
        }
    }
}

fn tool_call_of(call: &Value) -> Option<ToolCall> {
    let function = call.get("function")?;
    Some(ToolCall {
        id: call.get("id")?.as_str()?.to_owned(),
        name: function.get("name")?.as_str()?.to_owned(),
        arguments: match function.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reply_message() {
        let out = ReplyParts {
            content: "hi".into(),
            usage: UsageObject::from_value(&json!({"total_tokens": 3, "cost": 0.25})).map(Arc::new),
            model: Some("m".into()),
            ..ReplyParts::default()
        }
        .into_outcome();
        assert_eq!(out.message, json!({"role": "assistant", "content": "hi"}));
        assert_eq!(out.cost, Some(0.25));
        assert_eq!(out.model.as_deref(), Some("m"));
    }

    #[test]
    fn tool_call_reply_has_null_content() {
        let call =
            json!({"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}});
        let out = ReplyParts {
            tool_calls: vec![call.clone()],
            reasoning: Some("r".into()),
            ..ReplyParts::default()
        }
        .into_outcome();
        assert_eq!(
            out.message,
            json!({"role": "assistant", "content": null, "reasoning": "r", "tool_calls": [call]})
        );
        assert_eq!(
            out.tool_calls,
            vec![ToolCall {
                id: "c1".into(),
                name: "f".into(),
                arguments: "{}".into()
            }]
        );
    }
}
