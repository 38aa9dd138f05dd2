//! Cheap inspection of OpenRouter reply JSON for the pass-through path: only the fields
//! ferry acts on (errors, finish reason, whether output started, usage, model, and text
//! when asked) are deserialized; everything else is skipped without building a JSON tree.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::borrowed_text;

/// Token and cost figures of one reply (`usage` of the last chunk or of the body).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// `usage.cost` (USD credits), when reported.
    pub cost: Option<f64>,
}

/// A `chat.completion` body or a `chat.completion.chunk` payload.
#[derive(Debug, Deserialize)]
pub(crate) struct ReplyProbe<'a> {
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub usage: Option<UsageProbe>,
    #[serde(default, borrow)]
    pub choices: Option<Vec<ChoiceProbe<'a>>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UsageProbe {
    #[serde(default)]
    pub(super) prompt_tokens: Option<f64>,
    #[serde(default)]
    pub(super) completion_tokens: Option<f64>,
    #[serde(default)]
    pub(super) cost: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChoiceProbe<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    pub delta: Option<MessageProbe>,
    #[serde(default)]
    pub message: Option<MessageProbe>,
}

/// The parts of a `delta` (stream) or `message` (body) that count as output.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageProbe {
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    reasoning_details: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    tool_calls: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    images: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    audio: Option<IgnoredAny>,
}

fn non_empty(v: &Option<Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

impl MessageProbe {
    /// Whether this delta carries anything a client would show or act on.
    pub fn has_output(&self) -> bool {
        non_empty(&self.content)
            || non_empty(&self.reasoning)
            || self
                .reasoning_details
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            || self.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
            || self.images.as_ref().is_some_and(|i| !i.is_empty())
            || self.audio.is_some()
    }

    /// The visible text of this delta (string content, or the text parts of an array).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match &self.content {
            Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
            Some(Value::Array(parts)) => Some(Cow::Owned(
                parts
                    .iter()
                    .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect(),
            )),
            _ => None,
        }
    }
}

impl UsageProbe {
    pub fn summary(&self) -> Usage {
        let count = |v: Option<f64>| v.filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0) as u64;
        Usage {
            prompt_tokens: count(self.prompt_tokens),
            completion_tokens: count(self.completion_tokens),
            cost: self.cost.filter(|c| c.is_finite()),
        }
    }
}

impl<'a> ReplyProbe<'a> {
    /// The first choice (`index` 0, or the first one without an index).
    pub fn first_choice(&self) -> Option<&ChoiceProbe<'a>> {
        self.choices
            .as_deref()?
            .iter()
            .find(|c| c.index.unwrap_or(0) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_probe_reads_only_what_matters() {
        let p: ReplyProbe = serde_json::from_str(
            r#"{"id":"gen-1","model":"openai/gpt-5.4-mini","provider":"OpenAI","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        )
        .unwrap();
        assert_eq!(p.model.as_deref(), Some("openai/gpt-5.4-mini"));
        let c = p.first_choice().unwrap();
        assert!(!c.delta.as_ref().unwrap().has_output());
        assert!(c.finish_reason.is_none());

        let p: ReplyProbe = serde_json::from_str(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c"}]}}]}"#,
        )
        .unwrap();
        assert!(p
            .first_choice()
            .unwrap()
            .delta
            .as_ref()
            .unwrap()
            .has_output());

        let p: ReplyProbe = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"cost":0.00042,"prompt_tokens_details":{"cached_tokens":0}}}"#,
        )
        .unwrap();
        assert_eq!(
            p.usage.unwrap().summary(),
            Usage {
                prompt_tokens: 12,
                completion_tokens: 7,
                cost: Some(0.00042)
            }
        );
    }

    #[test]
    fn body_probe_sees_text_and_nulls() {
        let p: ReplyProbe = serde_json::from_str(
            r#"{"error":null,"choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"stop"}],"usage":null}"#,
        )
        .unwrap();
        let c = p.first_choice().unwrap();
        assert_eq!(c.message.as_ref().unwrap().text().as_deref(), Some("ab"));
        assert_eq!(c.finish_reason.as_deref(), Some("stop"));
        assert!(p.usage.is_none() && p.error.is_none());
    }
}
