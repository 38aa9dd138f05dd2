//! `POST /chat/completions`: turns a [`Reply`] and the request into a response plan.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::body::{ScriptBody, Step};
use crate::gate::Gate;
use crate::generation::{new_generation_id, unix_now, GenerationRecord};
use crate::protocols;
use crate::reply::{FakeToolCall, Reply, ReplyKind, ReplyOptions, ScriptedUsage};
use crate::respond::{self, FakeResponse, GENERATION_ID};
use crate::wire::{self, ChunkWriter, Completion, Delta, Usage};

/// The protocol of a request the reply queues answer: chat completions, Responses or
/// Anthropic Messages (the same [`Reply`] script, each in its own wire format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Chat,
    Responses,
    Messages,
}

/// What the fake needs to know about a chat completion (or Responses, or Messages)
/// request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatRequest {
    pub(crate) protocol: Protocol,
    pub(crate) model: Option<String>,
    pub(crate) stream: bool,
    pub(crate) prompt_tokens: u64,
    last_user_text: String,
}

impl ChatRequest {
    pub(crate) fn from_json(body: &Value) -> ChatRequest {
        ChatRequest::of(Protocol::Chat, body)
    }

    /// The summary of a request of `protocol`: its messages are `messages` (chat,
    /// Messages — plus Anthropic's `system`) or `input` (Responses: a string or items).
    pub(crate) fn of(protocol: Protocol, body: &Value) -> ChatRequest {
        let input_text;
        let owned: Vec<Value>;
        let messages: &[Value] = match (protocol, body.get("input")) {
            (Protocol::Responses, Some(Value::String(text))) => {
                input_text = json!([{"role": "user", "content": text}]);
                input_text.as_array().map(Vec::as_slice).unwrap_or_default()
            }
            (Protocol::Responses, Some(Value::Array(items))) => {
                owned = items
                    .iter()
                    .filter(|i| i.get("role").is_some())
                    .cloned()
                    .collect();
                &owned
            }
            _ => body
                .get("messages")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        };
        let prompt_chars: usize = messages
            .iter()
            .map(|m| text_of(m.get("content")).chars().count())
            .sum();
        let last_user_text = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(|m| text_of(m.get("content")))
            .unwrap_or_default();
        let system_chars = match body.get("system").or(body.get("instructions")) {
            Some(v) => text_of(Some(v)).chars().count(),
            None => 0,
        };
        let prompt_chars = prompt_chars + system_chars;
        ChatRequest {
            protocol,
            model: body.get("model").and_then(Value::as_str).map(str::to_owned),
            stream: body.get("stream").and_then(Value::as_bool) == Some(true),
            prompt_tokens: tokens_for(prompt_chars).max(1),
            last_user_text,
        }
    }

    /// The answer when nothing is queued: `echo: <last user message text>`.
    pub(crate) fn echo_reply(&self) -> Reply {
        Reply::text(format!("echo: {}", self.last_user_text))
    }
}

/// The text of a message `content`: the string itself, or its text parts joined by spaces
/// (`input_text` parts of Responses items have `text` too).
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// About four characters a token, rounded up.
fn tokens_for(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// How the server should answer one chat request.
pub(crate) struct Plan {
    /// Wait this long before answering.
    pub(crate) delay: Duration,
    /// Wait for this gate before answering.
    pub(crate) gate: Option<Gate>,
    pub(crate) outcome: Outcome,
    /// The generation to remember for `GET /generation`, if the answer produced one.
    pub(crate) generation: Option<GenerationRecord>,
}

pub(crate) enum Outcome {
    Respond(FakeResponse),
    /// Drop the connection with an RST.
    Reset,
}

/// The answer text of the reply kinds that produce one.
pub(crate) struct Answer {
    pub(crate) content: Option<String>,
    /// Byte ranges of `content`, one per streamed content chunk.
    pub(crate) pieces: Vec<Range<usize>>,
    pub(crate) reasoning: Option<String>,
    pub(crate) tool_calls: Vec<FakeToolCall>,
    images: Vec<String>,
}

impl Answer {
    fn message(
        content: Option<String>,
        reasoning: Option<String>,
        calls: Vec<FakeToolCall>,
    ) -> Self {
        let pieces = content.as_deref().map(word_pieces).unwrap_or_default();
        Answer {
            content,
            pieces,
            reasoning,
            tool_calls: calls,
            images: Vec::new(),
        }
    }

    /// `n` chunks `"part 1 "`, `"part 2 "`, …
    fn numbered(n: usize) -> Answer {
        let mut content = String::new();
        let mut pieces = Vec::with_capacity(n);
        for i in 1..=n {
            let start = content.len();
            content.push_str(&format!("part {i} "));
            pieces.push(start..content.len());
        }
        Answer {
            content: Some(content),
            pieces,
            reasoning: None,
            tool_calls: Vec::new(),
            images: Vec::new(),
        }
    }

    pub(crate) fn finish_reason(&self) -> &'static str {
        if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }

    fn usage(&self, prompt_tokens: u64, scripted: Option<ScriptedUsage>) -> Usage {
        let reasoning_tokens =
            tokens_for(self.reasoning.as_deref().map_or(0, |r| r.chars().count()));
        let completion_chars = self.content.as_deref().map_or(0, |c| c.chars().count())
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.chars().count())
                .sum::<usize>();
        let estimated = tokens_for(completion_chars) + reasoning_tokens;
        match scripted {
            Some(s) => Usage {
                prompt_tokens: s.prompt_tokens,
                completion_tokens: s.completion_tokens,
                reasoning_tokens: reasoning_tokens.min(s.completion_tokens),
                cost: s.cost,
            },
            None => Usage {
                prompt_tokens,
                completion_tokens: estimated,
                reasoning_tokens,
                cost: prompt_tokens as f64 * 0.000_000_15 + estimated as f64 * 0.000_000_6,
            },
        }
    }

    fn message_json(&self) -> Value {
        wire::message(
            self.content.as_deref(),
            self.reasoning.as_deref(),
            &self.tool_calls,
            &self.images,
        )
    }
}

/// How a streamed answer ends.
pub(crate) enum Ending {
    /// Finish chunk, usage chunk, `[DONE]`.
    Normal,
    /// Silence, then as `Normal`.
    StallThenNormal(Duration),
    /// Close the connection mid-body.
    Truncate,
    /// A chunk with a top-level `error`, then the end of the body.
    TopLevelError(Value),
    /// A chunk whose choice carries `error`, usage, `[DONE]`.
    ChoiceError(Value),
    /// A frame cut inside its JSON, then `[DONE]` (the other protocols: a cut connection).
    Malformed,
}

/// Plans the answer to `request` scripted by `reply`.
pub(crate) fn plan(reply: Reply, request: &ChatRequest) -> Plan {
    let Reply { kind, options } = reply;
    let ReplyOptions {
        usage,
        model_served,
        provider,
        headers,
        first_byte_delay,
        chunk_delay,
        gate,
    } = options;
    let created = unix_now();
    let model = model_served
        .or_else(|| request.model.clone())
        .unwrap_or_else(|| "openrouter/auto".to_owned());
    let provider = provider.unwrap_or_else(|| provider_for(&model).to_owned());
    let completion = Completion {
        id: new_generation_id(created),
        created,
        model,
        provider,
    };
    let mut ctx = Context {
        completion,
        request,
        scripted: usage,
        chunk_delay,
        gate,
        delay: first_byte_delay,
    };
    let (outcome, generation) = match kind {
        ReplyKind::Reset => (Outcome::Reset, None),
        ReplyKind::Error {
            status,
            message,
            retry_after,
            metadata,
        } => {
            let body = match request.protocol {
                Protocol::Messages => protocols::anthropic_error_body(status, &message),
                _ => wire::error_body(status, &message, metadata.as_ref()),
            };
            let mut response = respond::json(respond::status_code(status), &body);
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            (Outcome::Respond(response), None)
        }
        ReplyKind::Malformed => ctx.malformed(),
        ReplyKind::MalformedAfter { .. } if !request.stream => ctx.malformed(),
        ReplyKind::MalformedAfter { after_chunks } => {
            ctx.answer(Answer::numbered(after_chunks), Ending::Malformed)
        }
        ReplyKind::Message {
            content,
            reasoning,
            tool_calls,
            images,
        } => {
            let mut answer = Answer::message(content, reasoning, tool_calls);
            answer.images = images;
            ctx.answer(answer, Ending::Normal)
        }
        ReplyKind::Stall { chunks, silence } => {
            ctx.answer(Answer::numbered(chunks), Ending::StallThenNormal(silence))
        }
        ReplyKind::Truncated { after_chunks } => {
            ctx.answer(Answer::numbered(after_chunks), Ending::Truncate)
        }
        ReplyKind::MidStreamError {
            after_chunks,
            code,
            message,
            metadata,
        } => {
            let error = wire::error_object(&code, &message, metadata.as_ref());
            ctx.answer(Answer::numbered(after_chunks), Ending::TopLevelError(error))
        }
        ReplyKind::ChoicesError {
            code,
            message,
            metadata,
        } => {
            let error = wire::error_object(&code, &message, metadata.as_ref());
            let answer = Answer::message(Some(String::new()), None, Vec::new());
            ctx.answer(answer, Ending::ChoiceError(error))
        }
    };
    let outcome = match outcome {
        Outcome::Respond(mut response) => {
            if let Ok(id) = HeaderValue::try_from(ctx.completion.id.as_str()) {
                response.headers_mut().insert(GENERATION_ID, id);
            }
            for (name, value) in headers {
                response.headers_mut().insert(name, value);
            }
            Outcome::Respond(response)
        }
        Outcome::Reset => Outcome::Reset,
    };
    Plan {
        delay: ctx.delay,
        gate: ctx.gate,
        outcome,
        generation,
    }
}

/// The per-request inputs of planning.
pub(crate) struct Context<'a> {
    pub(crate) completion: Completion,
    pub(crate) request: &'a ChatRequest,
    scripted: Option<ScriptedUsage>,
    pub(crate) chunk_delay: Duration,
    /// Taken by a streamed answer that places it between chunks; otherwise waited for
    /// before the response starts.
    pub(crate) gate: Option<Gate>,
    /// Waited before the response starts.
    pub(crate) delay: Duration,
}

impl Context<'_> {
    fn malformed(&mut self) -> (Outcome, Option<GenerationRecord>) {
        if self.request.stream {
            let mut steps = StreamSteps::new(self.chunk_delay, self.gate.take());
            steps.frame(Bytes::from_static(wire::PROCESSING));
            steps.payload(Bytes::from_static(b"data: {not json\n\n"));
            steps.frame(Bytes::from_static(wire::DONE));
            return (
                Outcome::Respond(respond::event_stream(steps.finish())),
                None,
            );
        }
        let body = format!(
            "{{\"id\":\"{}\",\"object\":\"chat.completion\",\"choices\":[{{not json",
            self.completion.id
        );
        let response = respond::raw_json(StatusCode::OK, ScriptBody::full(body));
        (Outcome::Respond(response), None)
    }

    fn answer(&mut self, answer: Answer, ending: Ending) -> (Outcome, Option<GenerationRecord>) {
        let usage = answer.usage(self.request.prompt_tokens, self.scripted);
        let (response, finish_reason, generation_time) =
            match (self.request.protocol, self.request.stream) {
                (Protocol::Chat, true) => self.streamed(&answer, ending, usage),
                (Protocol::Chat, false) => self.whole(&answer, ending, usage),
                (Protocol::Responses, true) => {
                    protocols::responses_streamed(self, &answer, ending, usage)
                }
                (Protocol::Responses, false) => {
                    protocols::responses_whole(self, &answer, ending, usage)
                }
                (Protocol::Messages, true) => {
                    protocols::messages_streamed(self, &answer, ending, usage)
                }
                (Protocol::Messages, false) => {
                    protocols::messages_whole(self, &answer, ending, usage)
                }
            };
        let latency = duration_ms(self.delay);
        let record = GenerationRecord {
            id: self.completion.id.clone(),
            model: self.completion.model.clone(),
            provider_name: self.completion.provider.clone(),
            total_cost: usage.cost,
            tokens_prompt: usage.prompt_tokens,
            tokens_completion: usage.completion_tokens,
            tokens_reasoning: usage.reasoning_tokens,
            latency_ms: latency,
            generation_time_ms: latency + generation_time,
            streamed: self.request.stream,
            finish_reason,
            created: self.completion.created,
        };
        (Outcome::Respond(response), Some(record))
    }

    /// A non-streaming answer; returns the response, finish reason and generation time (ms).
    fn whole(
        &mut self,
        answer: &Answer,
        ending: Ending,
        usage: Usage,
    ) -> (FakeResponse, &'static str, u64) {
        let message = answer.message_json();
        let (finish_reason, body) = match ending {
            Ending::Normal => (answer.finish_reason(), None),
            Ending::StallThenNormal(silence) => {
                self.delay += silence;
                (answer.finish_reason(), None)
            }
            Ending::Truncate | Ending::Malformed => {
                let body = wire::completion_body(
                    &self.completion,
                    message,
                    answer.finish_reason(),
                    None,
                    usage,
                );
                let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                let half = bytes.slice(..bytes.len() / 2);
                let steps = VecDeque::from(vec![Step::Data(half), Step::Abort]);
                let response = respond::raw_json(StatusCode::OK, ScriptBody::streamed(steps));
                return (response, answer.finish_reason(), 0);
            }
            Ending::TopLevelError(error) | Ending::ChoiceError(error) => ("error", Some(error)),
        };
        let body = wire::completion_body(&self.completion, message, finish_reason, body, usage);
        (respond::json(StatusCode::OK, &body), finish_reason, 0)
    }

    /// A streamed answer; returns the response, finish reason and generation time (ms).
    fn streamed(
        &mut self,
        answer: &Answer,
        ending: Ending,
        usage: Usage,
    ) -> (FakeResponse, &'static str, u64) {
        let writer = ChunkWriter::new(&self.completion);
        let has_content = answer.content.is_some();
        let mut steps = StreamSteps::new(self.chunk_delay, self.gate.take());
        steps.frame(Bytes::from_static(wire::PROCESSING));
        steps.frame(writer.choice(
            Delta::Empty {
                content: has_content,
            },
            None,
            None,
        ));
        steps.mark_gate_fallback();
        if let Some(reasoning) = answer.reasoning.as_deref() {
            for piece in word_pieces(reasoning) {
                let delta = Delta::Reasoning {
                    text: &reasoning[piece],
                    content: has_content,
                };
                steps.payload(writer.choice(delta, None, None));
            }
        }
        if let Some(content) = answer.content.as_deref() {
            for piece in &answer.pieces {
                steps.payload(writer.choice(Delta::Content(&content[piece.clone()]), None, None));
            }
        }
        if !answer.images.is_empty() {
            steps.payload(writer.choice(Delta::Images(&answer.images), None, None));
        }
        for (index, call) in answer.tool_calls.iter().enumerate() {
            let start = Delta::ToolStart {
                index,
                id: &call.id,
                name: &call.name,
            };
            steps.payload(writer.choice(start, None, None));
            for piece in even_pieces(&call.arguments, 3) {
                let delta = Delta::ToolArgs {
                    index,
                    arguments: &call.arguments[piece],
                };
                steps.payload(writer.choice(delta, None, None));
            }
        }
        let mut extra = Duration::ZERO;
        let finish_reason = match ending {
            Ending::Normal | Ending::StallThenNormal(_) => {
                if let Ending::StallThenNormal(silence) = ending {
                    steps.pause(silence);
                    extra = silence;
                }
                let finish = answer.finish_reason();
                let empty = Delta::Empty {
                    content: has_content,
                };
                steps.frame(writer.choice(empty, Some(finish), None));
                steps.frame(writer.usage(usage));
                steps.frame(Bytes::from_static(wire::DONE));
                finish
            }
            Ending::Truncate => {
                steps.abort();
                answer.finish_reason()
            }
            Ending::Malformed => {
                let mut bad = b"data: {\"id\":\"".to_vec();
                bad.extend_from_slice(self.completion.id.as_bytes());
                bad.extend_from_slice(
                    b"\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bro\n\n",
                );
                steps.payload(Bytes::from(bad));
                steps.frame(Bytes::from_static(wire::DONE));
                "error"
            }
            Ending::TopLevelError(error) => {
                steps.frame(writer.top_level_error(&error));
                "error"
            }
            Ending::ChoiceError(error) => {
                let empty = Delta::Empty { content: true };
                steps.payload(writer.choice(empty, Some("error"), Some(&error)));
                steps.frame(writer.usage(usage));
                steps.frame(Bytes::from_static(wire::DONE));
                "error"
            }
        };
        let generation_time = duration_ms(steps.total_delay() + extra);
        (
            respond::event_stream(steps.finish()),
            finish_reason,
            generation_time,
        )
    }
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Collects the steps of a streamed body: chunk delays between frames, and the gate after
/// the first payload chunk (or after the role chunk if there is none).
pub(crate) struct StreamSteps {
    steps: VecDeque<Step>,
    chunk_delay: Duration,
    gate: Option<Gate>,
    frames: u32,
    gate_fallback_at: Option<usize>,
}

impl StreamSteps {
    pub(crate) fn new(chunk_delay: Duration, gate: Option<Gate>) -> StreamSteps {
        StreamSteps {
            steps: VecDeque::with_capacity(16),
            chunk_delay,
            gate,
            frames: 0,
            gate_fallback_at: None,
        }
    }

    pub(crate) fn frame(&mut self, bytes: Bytes) {
        if self.frames > 0 && !self.chunk_delay.is_zero() {
            self.steps.push_back(Step::Pause(self.chunk_delay));
        }
        self.steps.push_back(Step::Data(bytes));
        self.frames += 1;
    }

    /// A frame carrying answer payload: the gate (if any) goes right after the first one.
    pub(crate) fn payload(&mut self, bytes: Bytes) {
        self.frame(bytes);
        if let Some(gate) = self.gate.take() {
            self.steps.push_back(Step::Gate(gate));
        }
    }

    /// Where the gate goes if no payload frame follows.
    pub(crate) fn mark_gate_fallback(&mut self) {
        self.gate_fallback_at = Some(self.steps.len());
    }

    pub(crate) fn pause(&mut self, duration: Duration) {
        self.steps.push_back(Step::Pause(duration));
    }

    pub(crate) fn abort(&mut self) {
        self.steps.push_back(Step::Abort);
    }

    /// The chunk delays scripted between frames.
    pub(crate) fn total_delay(&self) -> Duration {
        self.chunk_delay * self.frames.saturating_sub(1)
    }

    pub(crate) fn finish(mut self) -> VecDeque<Step> {
        if let Some(gate) = self.gate.take() {
            let at = self.gate_fallback_at.unwrap_or(self.steps.len());
            self.steps.insert(at, Step::Gate(gate));
        }
        self.steps
    }
}

/// Splits `text` before each run of whitespace that follows a word: `"Hello big world"` →
/// `"Hello"`, `" big"`, `" world"`. A single word of several characters is split in two so
/// every non-trivial text streams as more than one chunk.
pub(crate) fn word_pieces(text: &str) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous_was_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !previous_was_space && i > start {
            pieces.push(start..i);
            start = i;
        }
        previous_was_space = space;
    }
    if start < text.len() {
        pieces.push(start..text.len());
    }
    if pieces.len() == 1 && text.chars().nth(1).is_some() {
        return even_pieces(text, 2);
    }
    pieces
}

/// Splits `text` into up to `n` non-empty pieces of about equal length, at char boundaries.
pub(crate) fn even_pieces(text: &str, n: usize) -> Vec<Range<usize>> {
    let chars = text.chars().count();
    if chars == 0 {
        return Vec::new();
    }
    let per_piece = chars.div_ceil(n.max(1));
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    for (count, (i, _)) in text.char_indices().enumerate() {
        if count > 0 && count % per_piece == 0 {
            pieces.push(start..i);
            start = i;
        }
    }
    pieces.push(start..text.len());
    pieces
}

/// The provider display name OpenRouter would report for a model's vendor.
fn provider_for(model: &str) -> &'static str {
    match model.split('/').next().unwrap_or_default() {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "google" => "Google",
        "meta-llama" => "DeepInfra",
        "mistralai" => "Mistral",
        "deepseek" => "DeepSeek",
        "x-ai" => "xAI",
        "qwen" => "Alibaba",
        "black-forest-labs" => "Black Forest Labs",
        _ => "Fake Provider",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts<'a>(text: &'a str, pieces: &[Range<usize>]) -> Vec<&'a str> {
        pieces.iter().map(|r| &text[r.clone()]).collect()
    }

    #[test]
    fn word_pieces_split_before_spaces() {
        let text = "Hello big  world";
        assert_eq!(
            texts(text, &word_pieces(text)),
            vec!["Hello", " big", "  world"]
        );
        assert_eq!(texts("Hello", &word_pieces("Hello")), vec!["Hel", "lo"]);
        assert_eq!(texts("é", &word_pieces("é")), vec!["é"]);
        assert!(word_pieces("").is_empty());
    }

    #[test]
    fn even_pieces_cover_the_text_at_char_boundaries() {
        let text = "{\"q\":\"héllo\"}";
        let pieces = even_pieces(text, 3);
        assert_eq!(pieces.len(), 3);
        assert_eq!(texts(text, &pieces).concat(), text);
        assert_eq!(texts("ab", &even_pieces("ab", 3)), vec!["a", "b"]);
    }

    #[test]
    fn request_summary_reads_model_stream_and_last_user_text() {
        let body = json!({
            "model": "openai/gpt-5.4-mini",
            "stream": true,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "there"}]},
            ],
        });
        let request = ChatRequest::from_json(&body);
        assert_eq!(request.model.as_deref(), Some("openai/gpt-5.4-mini"));
        assert!(request.stream);
        assert_eq!(request.last_user_text, "hello there");
        // "be brief" + "first" + "ok" + "hello there" = 8 + 5 + 2 + 11 chars.
        assert_eq!(request.prompt_tokens, 7);
    }

    #[test]
    fn gate_goes_after_the_first_payload_or_after_the_role_chunk() {
        let gate = Gate::new();
        let mut steps = StreamSteps::new(Duration::ZERO, Some(gate.clone()));
        steps.frame(Bytes::from_static(b"comment"));
        steps.frame(Bytes::from_static(b"role"));
        steps.mark_gate_fallback();
        steps.payload(Bytes::from_static(b"one"));
        steps.payload(Bytes::from_static(b"two"));
        let finished = steps.finish();
        let kinds: Vec<&str> = finished
            .iter()
            .map(|s| match s {
                Step::Data(b) => std::str::from_utf8(b).unwrap_or("?"),
                Step::Gate(_) => "GATE",
                Step::Pause(_) => "PAUSE",
                Step::Abort => "ABORT",
            })
            .collect();
        assert_eq!(kinds, vec!["comment", "role", "one", "GATE", "two"]);

        let mut steps = StreamSteps::new(Duration::from_millis(5), Some(gate));
        steps.frame(Bytes::from_static(b"comment"));
        steps.frame(Bytes::from_static(b"role"));
        steps.mark_gate_fallback();
        steps.frame(Bytes::from_static(b"finish"));
        assert_eq!(steps.total_delay(), Duration::from_millis(10));
        let finished = steps.finish();
        assert!(matches!(finished[3], Step::Gate(_)), "{finished:?}");
    }

    #[test]
    fn scripted_usage_wins_and_estimates_count_reasoning() {
        let answer = Answer::message(Some("abcdefgh".into()), Some("abcd".into()), Vec::new());
        let estimated = answer.usage(10, None);
        assert_eq!(estimated.completion_tokens, 3);
        assert_eq!(estimated.reasoning_tokens, 1);
        assert_eq!(estimated.prompt_tokens, 10);
        let scripted = answer.usage(
            10,
            Some(ScriptedUsage {
                prompt_tokens: 5,
                completion_tokens: 0,
                cost: 0.0,
            }),
        );
        assert_eq!(scripted.prompt_tokens, 5);
        assert_eq!(scripted.reasoning_tokens, 0);
    }
}
