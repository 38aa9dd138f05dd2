//! [`Reply`]: the script for one answer to `POST /chat/completions`.
//!
//! A reply answers in SSE when the request body has `"stream": true`, else as one JSON
//! body. Build one with a constructor and chain options; queue it with
//! [`FakeOpenRouter::push`](crate::FakeOpenRouter::push) or
//! [`push_for_model`](crate::FakeOpenRouter::push_for_model).

use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::gate::Gate;

/// One tool call in a [`Reply::tool_calls`] reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToolCall {
    /// The call id, e.g. `"call_1"`.
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments as a JSON string (sent verbatim, split across stream chunks).
    pub arguments: String,
}

/// A scripted answer to one chat completion request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) kind: ReplyKind,
    pub(crate) options: ReplyOptions,
}

/// What the reply does.
#[derive(Debug, Clone)]
pub(crate) enum ReplyKind {
    /// A normal answer: content and/or reasoning and/or tool calls.
    Message {
        content: Option<String>,
        reasoning: Option<String>,
        tool_calls: Vec<FakeToolCall>,
        /// `message.images[].image_url.url` values (data: or http(s) URLs).
        images: Vec<String>,
    },
    /// An HTTP error with OpenRouter's error body.
    Error {
        status: u16,
        message: String,
        retry_after: Option<u64>,
        metadata: Option<Value>,
    },
    /// 200 SSE, some content, then a chunk with a top-level `error`.
    MidStreamError {
        after_chunks: usize,
        code: Value,
        message: String,
        metadata: Option<Value>,
    },
    /// 200 with `choices[0].error` and `finish_reason: "error"`.
    ChoicesError {
        code: Value,
        message: String,
        metadata: Option<Value>,
    },
    /// Some content chunks, then silence with the connection open, then the normal end.
    Stall { chunks: usize, silence: Duration },
    /// Read the request, then reset the TCP connection.
    Reset,
    /// Some content chunks, then the connection closes mid-body.
    Truncated { after_chunks: usize },
    /// A body that is not valid JSON.
    Malformed,
    /// Some content chunks, then a frame cut inside its JSON, then the end of the stream.
    MalformedAfter { after_chunks: usize },
}

/// Options shared by every reply kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplyOptions {
    pub(crate) usage: Option<ScriptedUsage>,
    pub(crate) model_served: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) first_byte_delay: Duration,
    pub(crate) chunk_delay: Duration,
    pub(crate) gate: Option<Gate>,
}

/// Usage numbers fixed by [`Reply::with_usage`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScriptedUsage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) cost: f64,
}

impl Reply {
    fn new(kind: ReplyKind) -> Reply {
        Reply {
            kind,
            options: ReplyOptions::default(),
        }
    }

    /// A normal text answer.
    ///
    /// Streamed as: a `: OPENROUTER PROCESSING` comment, a role chunk, the content split
    /// into several chunks (at word boundaries), a finish chunk (`finish_reason: "stop"`), a
    /// usage-only chunk with `choices: []`, then `data: [DONE]`.
    pub fn text(content: impl Into<String>) -> Reply {
        Reply::new(ReplyKind::Message {
            content: Some(content.into()),
            reasoning: None,
            tool_calls: Vec::new(),
            images: Vec::new(),
        })
    }

    /// An image answer: `message.images[]` with these URLs (`data:image/png;base64,…` or
    /// http(s)) and no content; add text with [`Reply::with_content`]. Streamed, the
    /// images arrive in one `delta.images` chunk.
    pub fn images(urls: Vec<String>) -> Reply {
        Reply::new(ReplyKind::Message {
            content: None,
            reasoning: None,
            tool_calls: Vec::new(),
            images: urls,
        })
    }

    /// Sets the content of a message reply (e.g. the caption next to images); other kinds
    /// are returned unchanged.
    pub fn with_content(mut self, text: impl Into<String>) -> Reply {
        if let ReplyKind::Message { content, .. } = &mut self.kind {
            *content = Some(text.into());
        }
        self
    }

    /// An answer with reasoning and no content at all.
    pub fn reasoning_only(reasoning: impl Into<String>) -> Reply {
        Reply::new(ReplyKind::Message {
            content: None,
            reasoning: Some(reasoning.into()),
            tool_calls: Vec::new(),
            images: Vec::new(),
        })
    }

    /// An answer that calls tools (`finish_reason: "tool_calls"`); streamed as tool-call
    /// deltas, each call's arguments split across several chunks.
    pub fn tool_calls(calls: Vec<FakeToolCall>) -> Reply {
        Reply::new(ReplyKind::Message {
            content: None,
            reasoning: None,
            tool_calls: calls,
            images: Vec::new(),
        })
    }

    /// An HTTP error `status` with body `{"error":{"code":status,"message":…}}` (also for
    /// streaming requests: errors before the first token are ordinary HTTP errors).
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::new(ReplyKind::Error {
            status,
            message: message.into(),
            retry_after: None,
            metadata: None,
        })
    }

    /// HTTP 200 SSE: `after_chunks` content chunks (`"part 1 "`, `"part 2 "`, …), then a
    /// chunk with a top-level `error: {code, message}` and `finish_reason: "error"`, then
    /// the body ends (no `[DONE]`). `code` is usually an integer but may be a string.
    ///
    /// A non-streaming request gets the same failure as [`Reply::choices_error`] would give,
    /// with the partial content in the message.
    pub fn mid_stream_error(
        after_chunks: usize,
        code: impl Into<Value>,
        message: impl Into<String>,
    ) -> Reply {
        Reply::new(ReplyKind::MidStreamError {
            after_chunks,
            code: code.into(),
            message: message.into(),
            metadata: None,
        })
    }

    /// HTTP 200 whose `choices[0]` carries `error: {code, message}` and
    /// `finish_reason: "error"` (a provider failure after generation started). Streamed as
    /// a role chunk, a chunk whose choice carries the error, usage, `[DONE]`.
    pub fn choices_error(code: impl Into<Value>, message: impl Into<String>) -> Reply {
        Reply::new(ReplyKind::ChoicesError {
            code: code.into(),
            message: message.into(),
            metadata: None,
        })
    }

    /// Streams `chunks` content chunks (`"part 1 "`, …), then stays silent with the
    /// connection open for `silence`, then finishes normally (finish, usage, `[DONE]`).
    /// A non-streaming request waits `silence` before its (normal) answer.
    pub fn stall_after(chunks: usize, silence: Duration) -> Reply {
        Reply::new(ReplyKind::Stall { chunks, silence })
    }

    /// Reads the request, then drops the TCP connection with no response (an RST, via
    /// `SO_LINGER 0`).
    pub fn reset() -> Reply {
        Reply::new(ReplyKind::Reset)
    }

    /// Streams `after_chunks` content chunks, then closes the connection with no final
    /// chunk, no `[DONE]` and no chunked-encoding terminator. A non-streaming request gets
    /// a 200 whose JSON body is cut in half the same way.
    pub fn truncated(after_chunks: usize) -> Reply {
        Reply::new(ReplyKind::Truncated { after_chunks })
    }

    /// Non-streaming: 200 `application/json` with an invalid body. Streaming: a
    /// `data: {not json` frame, then `data: [DONE]`.
    pub fn malformed() -> Reply {
        Reply::new(ReplyKind::Malformed)
    }

    /// Streaming: `after_chunks` content chunks, then a frame whose JSON is cut off
    /// (`data: {"id":…,"delta":{"content":"bro`), then `data: [DONE]`. Not streaming: a
    /// body that is not valid JSON.
    pub fn malformed_after(after_chunks: usize) -> Reply {
        Reply::new(ReplyKind::MalformedAfter { after_chunks })
    }

    /// Holds `inner` back: when streaming, the comment, the role chunk and the first
    /// content (or reasoning / tool-call) chunk go out, and the rest waits for
    /// [`Gate::open`]. Anything that is not streamed chunk by chunk (non-streaming
    /// answers, errors, resets) waits for the gate before the response starts.
    pub fn gated(gate: Gate, inner: Reply) -> Reply {
        let mut reply = inner;
        reply.options.gate = Some(gate);
        reply
    }

    /// Adds reasoning (sent as reasoning deltas before any content). Only text and
    /// tool-call replies carry reasoning; other kinds are returned unchanged.
    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Reply {
        if let ReplyKind::Message { reasoning: r, .. } = &mut self.kind {
            *r = Some(reasoning.into());
        }
        self
    }

    /// Fixes the usage numbers (default: estimated from the text, about 4 chars a token,
    /// with a small per-token price).
    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64, cost: f64) -> Reply {
        self.options.usage = Some(ScriptedUsage {
            prompt_tokens,
            completion_tokens,
            cost,
        });
        self
    }

    /// The `model` field of the response (default: the requested model).
    pub fn with_model_served(mut self, model: impl Into<String>) -> Reply {
        self.options.model_served = Some(model.into());
        self
    }

    /// The `provider` field of the response (default: derived from the model's vendor,
    /// e.g. `"OpenAI"` for `openai/…`).
    pub fn with_provider(mut self, provider: impl Into<String>) -> Reply {
        self.options.provider = Some(provider.into());
        self
    }

    /// Adds a response header, e.g. `("X-OpenRouter-Cache-Status", "HIT")`.
    ///
    /// # Panics
    /// If `name` is not a valid header name or `value` not a valid header value: that is
    /// a mistake in the test script, reported where it is made.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        let parsed_name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("Reply::with_header: invalid header name {name:?}"));
        let parsed_value = HeaderValue::from_str(value)
            .unwrap_or_else(|_| panic!("Reply::with_header: invalid value for {name}"));
        self.options.headers.push((parsed_name, parsed_value));
        self
    }

    /// Waits this long before the response starts (status line and headers).
    pub fn first_byte_delay(mut self, delay: Duration) -> Reply {
        self.options.first_byte_delay = delay;
        self
    }

    /// Waits this long between streamed frames.
    pub fn chunk_delay(mut self, delay: Duration) -> Reply {
        self.options.chunk_delay = delay;
        self
    }

    /// Adds a `Retry-After: secs` header (meant for [`Reply::error`]).
    pub fn retry_after(self, secs: u64) -> Reply {
        let mut reply = self;
        if let ReplyKind::Error { retry_after, .. } = &mut reply.kind {
            *retry_after = Some(secs);
            reply
        } else {
            reply.with_header("retry-after", &secs.to_string())
        }
    }

    /// Adds `metadata` to the error object of an error reply ([`Reply::error`],
    /// [`Reply::mid_stream_error`], [`Reply::choices_error`]); other kinds are unchanged.
    pub fn with_metadata(mut self, metadata: Value) -> Reply {
        match &mut self.kind {
            ReplyKind::Error { metadata: m, .. }
            | ReplyKind::MidStreamError { metadata: m, .. }
            | ReplyKind::ChoicesError { metadata: m, .. } => *m = Some(metadata),
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_their_fields() {
        let gate = Gate::new();
        let reply = Reply::gated(
            gate,
            Reply::text("hi")
                .with_reasoning("think")
                .with_usage(1, 2, 0.5)
                .with_model_served("m/served")
                .with_header("X-OpenRouter-Cache-Status", "HIT")
                .chunk_delay(Duration::from_millis(3)),
        );
        match &reply.kind {
            ReplyKind::Message {
                content, reasoning, ..
            } => {
                assert_eq!(content.as_deref(), Some("hi"));
                assert_eq!(reasoning.as_deref(), Some("think"));
            }
            other => panic!("unexpected kind {other:?}"),
        }
        assert!(reply.options.gate.is_some());
        assert_eq!(reply.options.model_served.as_deref(), Some("m/served"));
        assert_eq!(
            reply.options.headers[0].0.as_str(),
            "x-openrouter-cache-status"
        );
        assert_eq!(reply.options.chunk_delay, Duration::from_millis(3));
        assert_eq!(
            reply.options.usage,
            Some(ScriptedUsage {
                prompt_tokens: 1,
                completion_tokens: 2,
                cost: 0.5
            })
        );
    }

    #[test]
    fn error_options_apply_to_error_kinds_only() {
        let reply = Reply::error(429, "slow down")
            .retry_after(7)
            .with_metadata(serde_json::json!({"provider_name": "X"}));
        match reply.kind {
            ReplyKind::Error {
                status,
                retry_after,
                metadata,
                ..
            } => {
                assert_eq!(status, 429);
                assert_eq!(retry_after, Some(7));
                assert_eq!(metadata, Some(serde_json::json!({"provider_name": "X"})));
            }
            other => panic!("unexpected kind {other:?}"),
        }
        let text = Reply::text("x").with_metadata(serde_json::json!({}));
        assert!(matches!(text.kind, ReplyKind::Message { .. }));
    }

    #[test]
    #[should_panic(expected = "invalid header name")]
    fn invalid_header_name_panics_at_the_call() {
        let _ = Reply::text("x").with_header("bad header", "v");
    }
}
