//! OpenRouter's JSON shapes: completion bodies, stream chunks, usage and error objects.
//!
//! Stream chunks are written straight into one buffer per frame from a per-response
//! prefix (id, created, model, provider), so a streamed answer costs one allocation per
//! frame.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::reply::FakeToolCall;

/// The identity every body and chunk of one completion repeats.
#[derive(Debug, Clone)]
pub(crate) struct Completion {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) provider: String,
}

/// Token counts and cost of one completion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) reasoning_tokens: u64,
    pub(crate) cost: f64,
}

impl Usage {
    pub(crate) fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost": self.cost,
            "is_byok": false,
            "prompt_tokens_details": {
                "cached_tokens": 0,
                "cache_write_tokens": 0,
                "audio_tokens": 0,
            },
            "cost_details": {
                "upstream_inference_cost": null,
                "upstream_inference_prompt_cost": 0,
                "upstream_inference_completions_cost": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "image_tokens": 0,
                "audio_tokens": 0,
            },
        })
    }
}

/// An error object `{code, message, metadata?}`.
pub(crate) fn error_object(code: &Value, message: &str, metadata: Option<&Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let (Some(metadata), Some(map)) = (metadata, error.as_object_mut()) {
        map.insert("metadata".to_owned(), metadata.clone());
    }
    error
}

/// OpenRouter's HTTP error body `{"error": {code, message, metadata?}}`.
pub(crate) fn error_body(status: u16, message: &str, metadata: Option<&Value>) -> Value {
    json!({ "error": error_object(&json!(status), message, metadata) })
}

/// The `message` of a non-streaming answer.
pub(crate) fn message(
    content: Option<&str>,
    reasoning: Option<&str>,
    tool_calls: &[FakeToolCall],
    images: &[String],
) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": content,
        "refusal": null,
        "reasoning": reasoning,
    });
    if let Some(map) = message.as_object_mut() {
        if let Some(reasoning) = reasoning {
            map.insert(
                "reasoning_details".to_owned(),
                json!([reasoning_detail(reasoning)]),
            );
        }
        if !tool_calls.is_empty() {
            let calls: Vec<Value> = tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments },
                    })
                })
                .collect();
            map.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        if !images.is_empty() {
            map.insert("images".to_owned(), images_json(images));
        }
    }
    message
}

/// `images[]` entries: `{type: "image_url", image_url: {url}}`.
fn images_json(urls: &[String]) -> Value {
    Value::Array(
        urls.iter()
            .map(|u| json!({"type": "image_url", "image_url": {"url": u}}))
            .collect(),
    )
}

fn reasoning_detail(text: &str) -> Value {
    json!({ "type": "reasoning.text", "text": text, "format": "unknown", "index": 0 })
}

/// A whole non-streaming body (`object: "chat.completion"`) with one choice.
pub(crate) fn completion_body(
    completion: &Completion,
    message: Value,
    finish_reason: &str,
    choice_error: Option<Value>,
    usage: Usage,
) -> Value {
    let mut choice = json!({
        "logprobs": null,
        "finish_reason": finish_reason,
        "native_finish_reason": finish_reason,
        "index": 0,
        "message": message,
    });
    if let (Some(error), Some(map)) = (choice_error, choice.as_object_mut()) {
        map.insert("error".to_owned(), error);
    }
    json!({
        "id": completion.id,
        "provider": completion.provider,
        "model": completion.model,
        "object": "chat.completion",
        "created": completion.created,
        "choices": [choice],
        "system_fingerprint": null,
        "usage": usage.to_json(),
    })
}

/// The `delta` of one stream chunk (every delta carries `role: "assistant"`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Delta<'a> {
    /// No payload; `content: ""` when the answer has content at all.
    Empty { content: bool },
    /// A piece of content.
    Content(&'a str),
    /// A piece of reasoning (with `reasoning_details`).
    Reasoning { text: &'a str, content: bool },
    /// The first delta of a tool call: id, type, name, empty arguments.
    ToolStart {
        index: usize,
        id: &'a str,
        name: &'a str,
    },
    /// A piece of a tool call's arguments.
    ToolArgs { index: usize, arguments: &'a str },
    /// Generated images (`images: [{type, image_url: {url}}]`).
    Images(&'a [String]),
}

/// The SSE keep-alive comment OpenRouter sends while a request is processing.
pub(crate) const PROCESSING: &[u8] = b": OPENROUTER PROCESSING\n\n";
/// The stream terminator.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// Writes the `data: {…}\n\n` frames of one streamed completion.
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    /// `data: {"id":…,"provider":…,"choices":[`
    prefix: Vec<u8>,
}

impl ChunkWriter {
    pub(crate) fn new(completion: &Completion) -> ChunkWriter {
        let mut prefix = Vec::with_capacity(160 + completion.model.len());
        prefix.extend_from_slice(b"data: {\"id\":");
        push_json(&mut prefix, &completion.id);
        prefix.extend_from_slice(b",\"provider\":");
        push_json(&mut prefix, &completion.provider);
        prefix.extend_from_slice(b",\"model\":");
        push_json(&mut prefix, &completion.model);
        prefix.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        prefix.extend_from_slice(completion.created.to_string().as_bytes());
        prefix.extend_from_slice(b",\"choices\":[");
        ChunkWriter { prefix }
    }

    fn start(&self, extra: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.prefix.len() + 160 + extra);
        buf.extend_from_slice(&self.prefix);
        buf
    }

    /// A chunk with one choice carrying `delta`, an optional finish reason and an optional
    /// `choices[0].error`.
    pub(crate) fn choice(
        &self,
        delta: Delta<'_>,
        finish_reason: Option<&str>,
        choice_error: Option<&Value>,
    ) -> Bytes {
        let mut buf = self.start(payload_len(delta));
        buf.extend_from_slice(b"{\"index\":0,\"delta\":{\"role\":\"assistant\"");
        write_delta(&mut buf, delta);
        buf.extend_from_slice(b"},\"finish_reason\":");
        push_json(&mut buf, &finish_reason);
        buf.extend_from_slice(b",\"native_finish_reason\":");
        push_json(&mut buf, &finish_reason);
        buf.extend_from_slice(b",\"logprobs\":null");
        if let Some(error) = choice_error {
            buf.extend_from_slice(b",\"error\":");
            push_json(&mut buf, error);
        }
        buf.extend_from_slice(b"}]}\n\n");
        Bytes::from(buf)
    }

    /// The usage-only chunk (`choices: []`) that precedes `[DONE]`.
    pub(crate) fn usage(&self, usage: Usage) -> Bytes {
        let mut buf = self.start(400);
        buf.extend_from_slice(b"],\"usage\":");
        push_json(&mut buf, &usage.to_json());
        buf.extend_from_slice(b"}\n\n");
        Bytes::from(buf)
    }

    /// A mid-stream failure: top-level `error` and `finish_reason: "error"`.
    pub(crate) fn top_level_error(&self, error: &Value) -> Bytes {
        let mut buf = self.start(200);
        buf.extend_from_slice(
            b"{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"error\",\"native_finish_reason\":\"error\",\"logprobs\":null}],\"error\":",
        );
        push_json(&mut buf, error);
        buf.extend_from_slice(b"}\n\n");
        Bytes::from(buf)
    }
}

fn payload_len(delta: Delta<'_>) -> usize {
    match delta {
        Delta::Empty { .. } => 0,
        Delta::Content(text) => text.len(),
        Delta::Reasoning { text, .. } => 2 * text.len() + 80,
        Delta::ToolStart { id, name, .. } => id.len() + name.len() + 80,
        Delta::ToolArgs { arguments, .. } => arguments.len() + 60,
        Delta::Images(urls) => urls.iter().map(|u| u.len() + 48).sum(),
    }
}

fn write_delta(buf: &mut Vec<u8>, delta: Delta<'_>) {
    match delta {
        Delta::Empty { content } => {
            if content {
                buf.extend_from_slice(b",\"content\":\"\"");
            }
        }
        Delta::Content(text) => {
            buf.extend_from_slice(b",\"content\":");
            push_json(buf, text);
        }
        Delta::Reasoning { text, content } => {
            if content {
                buf.extend_from_slice(b",\"content\":\"\"");
            }
            buf.extend_from_slice(b",\"reasoning\":");
            push_json(buf, text);
            buf.extend_from_slice(b",\"reasoning_details\":[");
            push_json(buf, &reasoning_detail(text));
            buf.push(b']');
        }
        Delta::ToolStart { index, id, name } => {
            buf.extend_from_slice(b",\"tool_calls\":[{\"index\":");
            buf.extend_from_slice(index.to_string().as_bytes());
            buf.extend_from_slice(b",\"id\":");
            push_json(buf, id);
            buf.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
            push_json(buf, name);
            buf.extend_from_slice(b",\"arguments\":\"\"}}]");
        }
        Delta::Images(urls) => {
            buf.extend_from_slice(b",\"images\":");
            push_json(buf, &images_json(urls));
        }
        Delta::ToolArgs { index, arguments } => {
            buf.extend_from_slice(b",\"tool_calls\":[{\"index\":");
            buf.extend_from_slice(index.to_string().as_bytes());
            buf.extend_from_slice(b",\"function\":{\"arguments\":");
            push_json(buf, arguments);
            buf.extend_from_slice(b"}}]");
        }
    }
}

/// Appends `value` as JSON. Serializing strings, numbers and `Value`s into a `Vec` cannot
/// fail; a non-finite float would, and is written as `null` like serde_json does for `Value`.
fn push_json<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let len = buf.len();
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.truncate(len);
        buf.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion() -> Completion {
        Completion {
            id: "gen-1-abc".into(),
            created: 7,
            model: "openai/gpt-5.4-mini".into(),
            provider: "OpenAI".into(),
        }
    }

    fn parse(frame: &Bytes) -> Value {
        let text = std::str::from_utf8(frame).expect("utf8");
        let json = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .expect("an SSE data frame");
        serde_json::from_str(json).expect("valid JSON")
    }

    #[test]
    fn choice_chunks_are_valid_openrouter_json() {
        let writer = ChunkWriter::new(&completion());
        let chunk = parse(&writer.choice(Delta::Content("he said \"hi\"\n"), None, None));
        assert_eq!(chunk["id"], "gen-1-abc");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["created"], 7);
        assert_eq!(chunk["model"], "openai/gpt-5.4-mini");
        assert_eq!(chunk["provider"], "OpenAI");
        assert_eq!(chunk["choices"][0]["delta"]["content"], "he said \"hi\"\n");
        assert_eq!(chunk["choices"][0]["delta"]["role"], "assistant");
        assert!(chunk["choices"][0]["finish_reason"].is_null());

        let finish = parse(&writer.choice(Delta::Empty { content: true }, Some("stop"), None));
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert_eq!(finish["choices"][0]["native_finish_reason"], "stop");

        let tool = parse(&writer.choice(
            Delta::ToolStart {
                index: 1,
                id: "call_1",
                name: "lookup",
            },
            None,
            None,
        ));
        assert_eq!(tool["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(
            tool["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "lookup"
        );

        let reasoning = parse(&writer.choice(
            Delta::Reasoning {
                text: "hmm",
                content: false,
            },
            None,
            None,
        ));
        assert_eq!(reasoning["choices"][0]["delta"]["reasoning"], "hmm");
        assert!(reasoning["choices"][0]["delta"].get("content").is_none());
        assert_eq!(
            reasoning["choices"][0]["delta"]["reasoning_details"][0]["text"],
            "hmm"
        );
    }

    #[test]
    fn usage_and_error_chunks() {
        let writer = ChunkWriter::new(&completion());
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            reasoning_tokens: 1,
            cost: 0.25,
        };
        let chunk = parse(&writer.usage(usage));
        assert_eq!(chunk["choices"], json!([]));
        assert_eq!(chunk["usage"]["total_tokens"], 7);
        assert_eq!(chunk["usage"]["cost"], 0.25);
        assert_eq!(
            chunk["usage"]["completion_tokens_details"]["reasoning_tokens"],
            1
        );

        let error = error_object(&json!("server_error"), "boom", None);
        let chunk = parse(&writer.top_level_error(&error));
        assert_eq!(chunk["error"]["code"], "server_error");
        assert_eq!(chunk["choices"][0]["finish_reason"], "error");
    }

    #[test]
    fn error_body_carries_metadata_when_given() {
        let body = error_body(429, "slow", Some(&json!({"provider_name": "X"})));
        assert_eq!(body["error"]["code"], 429);
        assert_eq!(body["error"]["metadata"]["provider_name"], "X");
        assert!(error_body(400, "bad", None)["error"]
            .get("metadata")
            .is_none());
    }
}
