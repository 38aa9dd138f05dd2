//! Cheap inspection of the Responses, Messages and embeddings replies the facade passes
//! through (the chat-completions shapes are in [`super::probe`]): only the fields ferry acts
//! on — the event type, errors, usage, the model that served and, when asked, the visible
//! text — are deserialized; everything else is skipped without building a JSON tree.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::borrowed_text;

use super::probe::Usage;

/// A number that must be a finite, non-negative count (anything else counts as 0).
fn count(v: Option<f64>) -> u64 {
    v.filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0) as u64
}

/// `usage` of a Responses reply (`input_tokens`, `output_tokens`, `cost`) or of an
/// Anthropic message (`input_tokens`, `output_tokens`, OpenRouter's `cost`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenUsage {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
    #[serde(default)]
    cache_read_input_tokens: Option<f64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<f64>,
    #[serde(default)]
    cost: Option<f64>,
}

impl TokenUsage {
    /// The usage as ferry counts it. Anthropic reports cached input apart from
    /// `input_tokens`; every input token counts as a prompt token.
    pub fn summary(&self) -> Usage {
        Usage {
            prompt_tokens: count(self.input_tokens)
                + count(self.cache_read_input_tokens)
                + count(self.cache_creation_input_tokens),
            completion_tokens: count(self.output_tokens),
            cost: self.cost.filter(|c| c.is_finite()),
        }
    }

    /// Merges a later report (Anthropic's `message_delta`) into an earlier one
    /// (`message_start`): fields the later one carries win.
    pub fn merge(&mut self, later: TokenUsage) {
        let keep = |a: &mut Option<f64>, b: Option<f64>| {
            if b.is_some() {
                *a = b;
            }
        };
        keep(&mut self.input_tokens, later.input_tokens);
        keep(&mut self.output_tokens, later.output_tokens);
        keep(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        keep(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        keep(&mut self.cost, later.cost);
    }
}

/// A `response` object: the body of a non-streaming Responses reply, and the payload of
/// `response.created|in_progress|completed|failed|incomplete` events.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseObject<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub model: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub status: Option<Cow<'a, str>>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    #[serde(default)]
    pub output: Option<Vec<OutputItem>>,
}

/// One `output[]` item of a Responses reply (only message text is read).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OutputItem {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    content: Option<Vec<ContentPart>>,
}

/// A content part: `output_text` (Responses) or `text` (Anthropic) carries `text`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ContentPart {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl ResponseObject<'_> {
    /// The text of the reply's message items.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for item in self.output.iter().flatten() {
            if item.kind.as_deref() == Some("message") {
                push_text(&mut out, item.content.iter().flatten(), "output_text");
            }
        }
        out
    }
}

fn push_text<'p>(out: &mut String, parts: impl Iterator<Item = &'p ContentPart>, kind: &str) {
    for part in parts {
        if part.kind.as_deref() == Some(kind) {
            if let Some(t) = &part.text {
                out.push_str(t);
            }
        }
    }
}

/// One event of a Responses stream.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub response: Option<ResponseObject<'a>>,
    /// `response.output_text.delta`: the text piece.
    #[serde(default)]
    pub delta: Option<Value>,
    /// `error` events: `{type: "error", code, message}` (OpenAI) or `{error: {…}}`.
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<Value>,
}

/// One event of an Anthropic Messages stream.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// `message_start`: the message (model, usage).
    #[serde(default, borrow)]
    pub message: Option<MessageObject<'a>>,
    /// `content_block_delta`: `{type: text_delta, text}`, `input_json_delta`, …;
    /// `message_delta`: `{stop_reason, …}`.
    #[serde(default)]
    pub delta: Option<MessagesDelta>,
    /// `message_delta`: output usage (and OpenRouter's cost).
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    /// `error`: `{type, message}`.
    #[serde(default)]
    pub error: Option<Value>,
}

/// The `delta` of a Messages stream event.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MessagesDelta {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// An Anthropic `message` (the non-streaming body, and `message_start`'s payload).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MessageObject<'a> {
    #[serde(
        default,
        rename = "type",
        borrow,
        deserialize_with = "borrowed_text::optional"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub usage: Option<TokenUsage>,
    #[serde(default)]
    pub content: Option<Vec<ContentPart>>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub stop_reason: Option<String>,
}

impl MessageObject<'_> {
    /// The text blocks of the message.
    pub fn text(&self) -> String {
        let mut out = String::new();
        push_text(&mut out, self.content.iter().flatten(), "text");
        out
    }
}

/// An embeddings body: `{object: "list", data: [...], model, usage}` or `{error}`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingsBody<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub data: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    pub usage: Option<EmbeddingsUsage>,
    #[serde(default)]
    pub error: Option<Value>,
}

/// `usage` of an embeddings reply.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingsUsage {
    #[serde(default)]
    prompt_tokens: Option<f64>,
    #[serde(default)]
    cost: Option<f64>,
}

impl EmbeddingsUsage {
    pub fn summary(&self) -> Usage {
        Usage {
            prompt_tokens: count(self.prompt_tokens),
            completion_tokens: 0,
            cost: self.cost.filter(|c| c.is_finite()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_completed_event_reads_model_usage_and_text() {
        let e: ResponsesEvent = serde_json::from_str(
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","model":"openai/gpt-5.4-mini","status":"completed","error":null,"output":[{"type":"reasoning","summary":[]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi ","annotations":[]},{"type":"output_text","text":"there"}]}],"usage":{"input_tokens":10,"output_tokens":3,"total_tokens":13,"cost":0.0004}}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, "response.completed");
        let r = e.response.unwrap();
        assert_eq!(r.model.as_deref(), Some("openai/gpt-5.4-mini"));
        assert_eq!(r.text(), "Hi there");
        assert_eq!(
            r.usage.unwrap().summary(),
            Usage {
                prompt_tokens: 10,
                completion_tokens: 3,
                cost: Some(0.0004)
            }
        );
    }

    #[test]
    fn anthropic_usage_counts_cached_input_and_merges_later_reports() {
        let start: MessagesEvent = serde_json::from_str(
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"anthropic/claude-sonnet-4-5","content":[],"usage":{"input_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":null,"output_tokens":1}}}"#,
        )
        .unwrap();
        let mut usage = start.message.unwrap().usage.unwrap();
        let delta: MessagesEvent = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15,"cost":0.0021}}"#,
        )
        .unwrap();
        assert_eq!(
            delta.delta.as_ref().unwrap().stop_reason.as_deref(),
            Some("end_turn")
        );
        usage.merge(delta.usage.unwrap());
        assert_eq!(
            usage.summary(),
            Usage {
                prompt_tokens: 107,
                completion_tokens: 15,
                cost: Some(0.0021)
            }
        );
    }
}
