//! Streaming reply assembly: turns the `data:` payloads of an OpenRouter SSE stream into
//! [`StreamEvent`]s (as they arrive) and, at the end, one [`ChatOutcome`]. Pure: the SSE
//! framing itself is done in [`crate::sse`].

use std::sync::Arc;

use std::collections::BTreeMap;

use ferry_types::UsageObject;
use serde_json::{json, Map, Value};

use crate::chunk::{Chunk, ChunkError, ChunkHead, Delta};
use crate::error::{ErrorContext, UpstreamError};
use crate::outcome::ReplyParts;
use crate::types::{ChatOutcome, StreamEvent};

/// Whether the stream continues after a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Done,
}

/// A tool call being assembled from deltas.
#[derive(Debug, Default)]
struct PartialToolCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    /// Other fields of the call (`type`, `extra_content`, …), last value wins.
    extra: Map<String, Value>,
}

/// Accumulates one streamed reply.
#[derive(Debug)]
pub(crate) struct StreamAccumulator<'c> {
    ctx: ErrorContext<'c>,
    content: String,
    reasoning: Option<String>,
    reasoning_details: Vec<Value>,
    tool_calls: BTreeMap<u32, PartialToolCall>,
    images: Vec<Value>,
    finish_reason: Option<String>,
    usage: Option<Arc<UsageObject>>,
    model: Option<String>,
    provider: Option<String>,
    id: Option<String>,
    /// The head the stream's chunks repeat ([`ChunkHead`]).
    head: ChunkHead,
    emitted: bool,
    done: bool,
}

impl<'c> StreamAccumulator<'c> {
    pub fn new(ctx: ErrorContext<'c>) -> Self {
        Self {
            ctx,
            content: String::new(),
            reasoning: None,
            reasoning_details: Vec::new(),
            tool_calls: BTreeMap::new(),
            images: Vec::new(),
            finish_reason: None,
            usage: None,
            model: None,
            provider: None,
            id: None,
            head: ChunkHead::default(),
            emitted: false,
            done: false,
        }
    }

    /// Whether any event was emitted (output reached the caller).
    pub fn output_started(&self) -> bool {
        self.emitted
    }

    pub fn ctx(&self) -> ErrorContext<'c> {
        self.ctx
    }

    /// Handles one SSE `data:` payload.
    pub fn feed(
        &mut self,
        data: &str,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Flow, UpstreamError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Flow::Done);
        }
        let mut tree = None;
        let chunk = Chunk::parse(data, &mut tree, &mut self.head).map_err(|e| {
            let reason = match e {
                ChunkError::Json(e) => format!("stream chunk is not valid JSON ({e})"),
                ChunkError::NotObject => "stream chunk is not a JSON object".to_owned(),
            };
            UpstreamError::protocol(&reason, self.emitted, self.ctx)
        })?;
        if let Some(error) = &chunk.error {
            return Err(UpstreamError::mid_stream(error, self.emitted, self.ctx));
        }
        let had_id = self.id.is_some();
        set_if_str(&mut self.id, chunk.id.as_deref());
        if let (false, Some(id)) = (had_id, &self.id) {
            on_event(StreamEvent::Generation(id.clone()));
        }
        set_if_str(&mut self.model, chunk.model.as_deref());
        set_if_str(&mut self.provider, chunk.provider.as_deref());
        if let Some(usage) = chunk.usage {
            let usage = Arc::new(usage);
            on_event(StreamEvent::Usage(usage.clone()));
            self.usage = Some(usage);
        }
        for mut choice in chunk.choices.into_iter().flatten() {
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            if let Some(error) = &choice.error {
                return Err(UpstreamError::choice_error(error, self.emitted, self.ctx));
            }
            if let Some(delta) = choice.output() {
                self.apply_delta(delta, on_event);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason.into_owned());
            }
        }
        Ok(Flow::Continue)
    }

    fn emit(&mut self, on_event: &mut (dyn FnMut(StreamEvent) + Send), event: StreamEvent) {
        self.emitted = true;
        on_event(event);
    }

    fn apply_delta(&mut self, delta: Delta<'_>, on_event: &mut (dyn FnMut(StreamEvent) + Send)) {
        if let Some(reasoning) = delta.reasoning.filter(|r| !r.is_empty()) {
            self.reasoning
                .get_or_insert_with(String::new)
                .push_str(&reasoning);
            self.emit(on_event, StreamEvent::Reasoning(reasoning.into_owned()));
        }
        for detail in delta.reasoning_details.iter().flatten() {
            merge_reasoning_detail(&mut self.reasoning_details, detail);
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            self.content.push_str(&text);
            self.emit(on_event, StreamEvent::Text(text.into_owned()));
        }
        for call in delta.tool_calls.iter().flatten() {
            self.apply_tool_call_delta(call, on_event);
        }
        self.images.extend(delta.images.into_iter().flatten());
    }

    fn apply_tool_call_delta(
        &mut self,
        call: &Value,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) {
        let fallback_index = self.tool_calls.keys().next_back().copied().unwrap_or(0);
        let index = call
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(fallback_index);
        let entry = self.tool_calls.entry(index).or_default();
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let function = call.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let new_id = id.filter(|_| entry.id.is_none()).map(str::to_owned);
        let new_name = name.filter(|_| entry.name.is_none()).map(str::to_owned);
        if let Some(id) = &new_id {
            entry.id = Some(id.clone());
        }
        if let Some(name) = &new_name {
            entry.name = Some(name.clone());
        }
        entry.arguments.push_str(&arguments);
        if let Some(obj) = call.as_object() {
            for (k, v) in obj {
                if !matches!(k.as_str(), "index" | "id" | "function") && !v.is_null() {
                    entry.extra.insert(k.clone(), v.clone());
                }
            }
        }
        if new_id.is_some() || new_name.is_some() || !arguments.is_empty() {
            self.emit(
                on_event,
                StreamEvent::ToolCallDelta {
                    index,
                    id: new_id,
                    name: new_name,
                    arguments,
                },
            );
        }
    }

    /// Ends the stream: a stream without `[DONE]` and without a finish reason was cut off.
    pub fn finish(self) -> Result<ChatOutcome, UpstreamError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(UpstreamError::truncated(
                self.emitted,
                self.ctx,
                "no [DONE] and no finish_reason",
            ));
        }
        if self.finish_reason.as_deref() == Some("error") {
            let error = json!({"message": "the stream ended with finish_reason \"error\""});
            return Err(UpstreamError::mid_stream(&error, self.emitted, self.ctx));
        }
        let mut tool_calls = Vec::with_capacity(self.tool_calls.len());
        for (index, call) in self.tool_calls {
            let Some(name) = call.name else {
                return Err(UpstreamError::protocol(
                    &format!("tool call {index} has no function name"),
                    self.emitted,
                    self.ctx,
                ));
            };
            let mut wire = Map::new();
            wire.insert(
                "id".into(),
                json!(call.id.unwrap_or_else(|| format!("call_{index}"))),
            );
            wire.insert("type".into(), json!("function"));
            wire.insert(
                "function".into(),
                json!({"name": name, "arguments": call.arguments}),
            );
            for (k, v) in call.extra {
                wire.entry(k).or_insert(v);
            }
            tool_calls.push(Value::Object(wire));
        }
        Ok(ReplyParts {
            content: self.content,
            reasoning: self.reasoning,
            reasoning_details: self.reasoning_details,
            tool_calls,
            images: self.images,
            finish_reason: self.finish_reason,
            usage: self.usage,
            model: self.model,
            provider: self.provider,
            id: self.id,
        }
        .into_outcome())
    }
}

fn set_if_str(slot: &mut Option<String>, value: Option<&str>) {
    if let Some(s) = value.filter(|s| !s.is_empty()) {
        if slot.as_deref() != Some(s) {
            *slot = Some(s.to_owned());
        }
    }
}

/// Streams send `reasoning_details` in fragments that share an `index` and `type`:
/// text/summary fragments are concatenated, other fields take the latest value.
fn merge_reasoning_detail(details: &mut Vec<Value>, fragment: &Value) {
    let Some(frag) = fragment.as_object() else {
        return;
    };
    let key = (frag.get("index").and_then(Value::as_u64), frag.get("type"));
    let existing = key.0.and_then(|index| {
        details.iter_mut().find(|d| {
            d.get("index").and_then(Value::as_u64) == Some(index) && d.get("type") == key.1
        })
    });
    let Some(Value::Object(target)) = existing else {
        details.push(fragment.clone());
        return;
    };
    for (k, v) in frag {
        match (k.as_str(), target.get_mut(k), v) {
            ("text" | "summary" | "data", Some(Value::String(acc)), Value::String(more)) => {
                acc.push_str(more)
            }
            (_, _, Value::Null) => {}
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ErrorContext<'static> = ErrorContext {
        model: "test/model",
        api_key: "sk-or-v1-k",
    };

    fn run(payloads: &[&str]) -> (Vec<StreamEvent>, Result<ChatOutcome, UpstreamError>) {
        let mut events = Vec::new();
        let mut on_event = |e: StreamEvent| events.push(e);
        let mut acc = StreamAccumulator::new(CTX);
        let mut result = None;
        for p in payloads {
            match acc.feed(p, &mut on_event) {
                Ok(Flow::Done) => break,
                Ok(Flow::Continue) => {}
                Err(e) => {
                    result = Some(Err(e));
                    break;
                }
            }
        }
        let result = result.unwrap_or_else(|| acc.finish());
        (events, result)
    }

    #[test]
    fn merges_reasoning_detail_fragments() {
        let mut details = Vec::new();
        merge_reasoning_detail(
            &mut details,
            &json!({"type": "reasoning.text", "index": 0, "text": "a", "format": "f"}),
        );
        merge_reasoning_detail(
            &mut details,
            &json!({"type": "reasoning.text", "index": 0, "text": "b", "signature": null}),
        );
        merge_reasoning_detail(
            &mut details,
            &json!({"type": "reasoning.text", "index": 0, "signature": "sig"}),
        );
        merge_reasoning_detail(
            &mut details,
            &json!({"type": "reasoning.encrypted", "index": 1, "data": "xyz"}),
        );
        assert_eq!(
            details,
            vec![
                json!({"type": "reasoning.text", "index": 0, "text": "ab", "format": "f", "signature": "sig"}),
                json!({"type": "reasoning.encrypted", "index": 1, "data": "xyz"}),
            ]
        );
    }

    #[test]
    fn tool_calls_accumulate_by_index() {
        let (events, out) = run(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"get","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"put","arguments":"{\"b\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":2}"}}]},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        let out = out.unwrap();
        assert_eq!(out.tool_calls.len(), 2);
        assert_eq!(out.tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(out.tool_calls[1].name, "put");
        assert_eq!(out.tool_calls[1].arguments, r#"{"b":2}"#);
        assert_eq!(
            events[0],
            StreamEvent::ToolCallDelta {
                index: 0,
                id: Some("c1".into()),
                name: Some("get".into()),
                arguments: String::new()
            }
        );
        assert_eq!(
            events[2],
            StreamEvent::ToolCallDelta {
                index: 0,
                id: None,
                name: None,
                arguments: r#"{"a":1}"#.into()
            }
        );
        assert_eq!(out.message["tool_calls"][0]["type"], "function");
        assert_eq!(out.message["content"], Value::Null);
    }

    #[test]
    fn tool_call_without_name_is_protocol_error() {
        let (_, out) = run(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        assert_eq!(out.unwrap_err().code(), "upstream_protocol_error");
    }

    #[test]
    fn tool_call_extra_content_is_kept() {
        let (_, out) = run(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"c2ln"}}}]},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        let out = out.unwrap();
        assert_eq!(
            out.message["tool_calls"][0]["extra_content"]["google"]["thought_signature"],
            "c2ln"
        );
    }

    #[test]
    fn finish_reason_error_without_object_fails() {
        let (_, out) = run(&[
            r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"error"}]}"#,
            "[DONE]",
        ]);
        let e = out.unwrap_err();
        assert_eq!(e.code(), "upstream_stream_error");
        assert!(e.output_started);
    }

    #[test]
    fn images_in_deltas_are_kept() {
        let img = json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}});
        let chunk =
            json!({"choices": [{"index": 0, "delta": {"images": [img]}, "finish_reason": "stop"}]})
                .to_string();
        let (_, out) = run(&[&chunk, "[DONE]"]);
        assert_eq!(out.unwrap().message["images"], json!([img]));
    }

    #[test]
    fn non_object_chunk_is_protocol_error() {
        let (_, out) = run(&["[1,2]"]);
        assert_eq!(out.unwrap_err().code(), "upstream_protocol_error");
    }
}
