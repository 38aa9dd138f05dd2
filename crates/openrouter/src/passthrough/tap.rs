//! The pass-through stream's watcher. Chunks are forwarded untouched; the tap only
//! watches them: it frames them into events ([`SseFrames`]) and inspects each event in the
//! terms of its protocol (chat chunks, Responses events, Anthropic Messages events). An
//! event is parsed (with the cheap probes of [`super::probe`] and [`super::events`]) only
//! when it can matter: before the first output, when text is being collected, or when it
//! mentions an error, usage or the end of the reply. Plain content chunks in the middle of
//! a stream cost a few substring scans and a validating scan that builds nothing. (A quoted marker such as
//! `"message_stop"` cannot occur inside a JSON string, where quotes are escaped.)

use std::ops::ControlFlow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{ErrorContext, UpstreamError};
use crate::passthrough::events::{MessagesEvent, ResponsesEvent, TokenUsage};
use crate::passthrough::probe::{ReplyProbe, Usage};
use crate::passthrough::quick_reply;
use crate::sse_frames::SseFrames;
use crate::types::Protocol;

static ERROR_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"error\""));
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static FINISH_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"finish_reason\""));
static FINISH_NULL: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"\"finish_reason\":null"));
/// Responses events that end a reply or report on it.
static RESPONSES_MARKERS: LazyLock<[Finder<'static>; 4]> = LazyLock::new(|| {
    [
        Finder::new(b"\"response.completed\""),
        Finder::new(b"\"response.failed\""),
        Finder::new(b"\"response.incomplete\""),
        Finder::new(b"\"error\""),
    ]
});
/// Messages events that end a reply or report on it.
static MESSAGES_MARKERS: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
    [
        Finder::new(b"\"message_delta\""),
        Finder::new(b"\"message_stop\""),
        Finder::new(b"\"error\""),
    ]
});

/// What the tap learned from the events seen so far.
#[derive(Debug, Default)]
pub(crate) struct TapState {
    /// `data: [DONE]` was seen.
    pub done: bool,
    /// A non-null `finish_reason` was seen.
    pub finished: bool,
    /// Why the reply ended: chat's `finish_reason`, Messages' `stop_reason`, the
    /// Responses status (`completed`, `incomplete`).
    pub finish_reason: Option<String>,
    /// An event carried output (text, reasoning, tool calls, images, audio).
    pub output_started: bool,
    /// The usage of the reply, from the chunk that carried it.
    pub usage: Option<Usage>,
    /// The model that served, from the first chunk naming one.
    pub model: Option<String>,
    /// The visible text, when collecting.
    pub text: Option<String>,
    /// The first failure reported in the stream (error chunk, choice error, bad JSON).
    pub failure: Option<UpstreamError>,
    /// The failure arrived as the protocol's own error event (an `error` chunk,
    /// `response.failed`, Anthropic's `event: error`), which the client receives as is;
    /// otherwise (bad JSON) the client must be told by an error event of ferry's.
    pub failure_reported: bool,
}

/// Watches an SSE byte stream event by event.
pub(crate) struct SseTap {
    frames: SseFrames,
    model: String,
    api_key: Zeroizing<String>,
    protocol: Protocol,
    /// Anthropic usage arrives in two halves (`message_start`, `message_delta`).
    message_usage: Option<TokenUsage>,
    /// Where in the chunk being fed the event being inspected began (`None`: in an
    /// earlier chunk).
    event_start: Option<usize>,
    /// Set by [`SseTap::feed`] when an event of the chunk just fed is not valid JSON after
    /// output started: only the bytes before this offset may be forwarded, so the client
    /// gets the error event instead of the broken one.
    pub cut: Option<usize>,
    pub state: TapState,
}

impl SseTap {
    /// A tap for a reply to `model` in `protocol`; `api_key` only serves to redact error
    /// messages.
    pub fn new(protocol: Protocol, model: &str, api_key: &str, collect_text: bool) -> Self {
        SseTap {
            frames: SseFrames::with_capacity(512),
            model: model.to_owned(),
            api_key: Zeroizing::new(api_key.to_owned()),
            protocol,
            message_usage: None,
            event_start: None,
            cut: None,
            state: TapState {
                text: collect_text.then(String::new),
                ..TapState::default()
            },
        }
    }

    /// The error context for messages about this reply.
    pub fn ctx(&self) -> ErrorContext<'_> {
        ErrorContext {
            model: &self.model,
            api_key: &self.api_key,
        }
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut frames = std::mem::take(&mut self.frames);
        let _ = frames.feed(chunk, |data, start| {
            self.event_start = start;
            self.inspect(data);
            ControlFlow::Continue(())
        });
        self.frames = frames;
    }

    fn inspect(&mut self, data: &[u8]) {
        let d = data.trim_ascii();
        if d.is_empty() || self.state.done {
            return;
        }
        if d == b"[DONE]" {
            self.state.done = true;
            return;
        }
        match self.protocol {
            Protocol::Chat | Protocol::Embeddings => self.inspect_chat(d),
            Protocol::Responses => self.inspect_responses(d),
            Protocol::Messages => self.inspect_messages(d),
        }
    }

    /// Whether an event past the first output needs a parse: only when collecting text or
    /// when it carries one of `markers`.
    fn worth_parsing(&self, d: &[u8], markers: &[Finder<'static>]) -> bool {
        !self.state.output_started
            || self.state.text.is_some()
            || markers.iter().any(|m| m.find(d).is_some())
    }

    /// Records a failure (the first one wins).
    fn fail(&mut self, failure: UpstreamError, reported: bool) {
        if self.state.failure.is_none() {
            self.state.failure = Some(failure);
            self.state.failure_reported = reported;
        }
    }

    /// An event not worth a parse is still checked to be valid JSON (a validating scan
    /// that builds nothing), so a frame cut inside its JSON is a failure the client is told
    /// about rather than a silent end.
    fn skim(&mut self, d: &[u8]) {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(d) {
            self.not_json(&e);
        }
    }

    fn not_json(&mut self, e: &serde_json::Error) {
        if self.state.output_started && self.state.failure.is_none() {
            self.cut = Some(self.event_start.unwrap_or(0));
        }
        let failure = UpstreamError::protocol(
            &format!("stream event is not valid JSON ({e})"),
            self.state.output_started,
            self.ctx(),
        );
        self.fail(failure, false);
    }

    /// A Responses event: `response.created`/`in_progress` name the model; the events that
    /// only open an item or a part (`response.output_item.added`, `content_part.added`,
    /// `reasoning_summary_part.added`: empty until their first delta) are not output yet,
    /// so they are held with the events before them and leave in one write with the
    /// first delta (counted as output, a Responses stream's first text went out in the
    /// third write, behind two events of its own); any other event is output;
    /// `response.completed`/`incomplete` end the reply with its usage; `response.failed`
    /// and `error` are failures the client sees as they are.
    fn inspect_responses(&mut self, d: &[u8]) {
        if !self.worth_parsing(d, &*RESPONSES_MARKERS) {
            return self.skim(d);
        }
        let event: ResponsesEvent = match serde_json::from_slice(d) {
            Ok(e) => e,
            Err(e) => return self.not_json(&e),
        };
        if let Some(r) = &event.response {
            if let Some(model) = r.model.as_deref().filter(|_| self.state.model.is_none()) {
                self.state.model = Some(model.to_owned());
            }
            if let Some(u) = &r.usage {
                self.state.usage = Some(u.summary());
            }
        }
        match &*event.kind {
            "response.created"
            | "response.in_progress"
            | "response.queued"
            | "response.output_item.added"
            | "response.content_part.added"
            | "response.reasoning_summary_part.added" => {}
            "response.completed" | "response.incomplete" => {
                self.state.finished = true;
                self.state.done = true;
                self.state.finish_reason = event
                    .response
                    .as_ref()
                    .and_then(|r| r.status.as_deref())
                    .map(str::to_owned);
            }
            "response.failed" => {
                self.state.done = true;
                let error = event
                    .response
                    .as_ref()
                    .and_then(|r| r.error.clone())
                    .filter(|e| !e.is_null())
                    .unwrap_or_else(|| json!({"message": "the response failed"}));
                let failure =
                    UpstreamError::mid_stream(&error, self.state.output_started, self.ctx());
                self.fail(failure, true);
            }
            "error" => {
                let error = event.error.clone().filter(|e| !e.is_null()).unwrap_or_else(|| {
                    json!({"code": event.code, "message": event.message.as_deref().unwrap_or("error event")})
                });
                let failure =
                    UpstreamError::mid_stream(&error, self.state.output_started, self.ctx());
                self.fail(failure, true);
            }
            kind => {
                self.state.output_started = true;
                if kind == "response.output_text.delta" {
                    if let (Some(Value::String(t)), Some(acc)) =
                        (&event.delta, self.state.text.as_mut())
                    {
                        acc.push_str(t);
                    }
                }
            }
        }
    }

    /// An Anthropic Messages event: `message_start` names the model and the input usage,
    /// content events are output, `message_delta` carries the stop reason and output
    /// usage, `message_stop` ends the reply, `error` is a failure the client sees as is.
    fn inspect_messages(&mut self, d: &[u8]) {
        if !self.worth_parsing(d, &*MESSAGES_MARKERS) {
            return self.skim(d);
        }
        let event: MessagesEvent = match serde_json::from_slice(d) {
            Ok(e) => e,
            Err(e) => return self.not_json(&e),
        };
        match &*event.kind {
            "message_start" => {
                if let Some(m) = event.message {
                    if let Some(model) = m.model.as_deref().filter(|_| self.state.model.is_none()) {
                        self.state.model = Some(model.to_owned());
                    }
                    self.message_usage = m.usage;
                }
            }
            "ping" | "content_block_start" => {}
            "message_delta" => {
                self.state.output_started = true;
                if let Some(reason) = event.delta.as_ref().and_then(|d| d.stop_reason.as_ref()) {
                    self.state.finished = true;
                    self.state.finish_reason = Some(reason.clone());
                }
                if let Some(later) = event.usage {
                    let usage = self.message_usage.get_or_insert_with(TokenUsage::default);
                    usage.merge(later);
                }
                if let Some(u) = &self.message_usage {
                    self.state.usage = Some(u.summary());
                }
            }
            "message_stop" => {
                self.state.done = true;
                self.state.finished = true;
            }
            "error" => {
                let error = event
                    .error
                    .filter(|e| !e.is_null())
                    .unwrap_or_else(|| json!({"message": "error event"}));
                let failure =
                    UpstreamError::mid_stream(&error, self.state.output_started, self.ctx());
                self.fail(failure, true);
            }
            _ => {
                self.state.output_started = true;
                if let (Some(delta), Some(acc)) = (&event.delta, self.state.text.as_mut()) {
                    if delta.kind.as_deref() == Some("text_delta") {
                        acc.push_str(delta.text.as_deref().unwrap_or_default());
                    }
                }
            }
        }
    }

    fn inspect_chat(&mut self, d: &[u8]) {
        let worth_parsing = !self.state.output_started
            || self.state.text.is_some()
            || ERROR_KEY.find(d).is_some()
            || USAGE_KEY.find(d).is_some()
            || (FINISH_KEY.find(d).is_some() && FINISH_NULL.find(d).is_none());
        if !worth_parsing {
            return self.skim(d);
        }
        if let Some(chunk) = quick_reply::read_chunk(d) {
            return self.take_chunk(chunk);
        }
        let probe: ReplyProbe = match serde_json::from_slice(d) {
            Ok(p) => p,
            Err(e) => return self.not_json(&e),
        };
        if self.state.model.is_none() {
            self.state.model = probe.model.as_deref().map(str::to_owned);
        }
        if let Some(u) = &probe.usage {
            self.state.usage = Some(u.summary());
        }
        if let Some(error) = probe.error.as_ref().filter(|e| !e.is_null()) {
            let failure = UpstreamError::mid_stream(error, self.state.output_started, self.ctx());
            self.fail(failure, true);
        }
        let Some(choice) = probe.first_choice() else {
            return;
        };
        if let Some(error) = choice.error.as_ref().filter(|e| !e.is_null()) {
            let failure = UpstreamError::choice_error(error, self.state.output_started, self.ctx());
            self.fail(failure, true);
        }
        if let Some(delta) = choice.delta.as_ref().or(choice.message.as_ref()) {
            if delta.has_output() {
                self.state.output_started = true;
            }
            if let (Some(text), Some(acc)) = (delta.text(), self.state.text.as_mut()) {
                acc.push_str(&text);
            }
        }
        if let Some(reason) = &choice.finish_reason {
            self.finish(reason);
        }
    }

    /// A chat chunk of the plain shape, read in one scan ([`quick_reply::read_chunk`]):
    /// what [`Self::inspect_chat`] takes from the serde probe, without its errors (a chunk
    /// with one is never of the plain shape).
    fn take_chunk(&mut self, chunk: quick_reply::QuickChunk<'_>) {
        if self.state.model.is_none() {
            self.state.model = chunk.model.map(str::to_owned);
        }
        if let Some(usage) = chunk.usage {
            self.state.usage = Some(usage);
        }
        let Some(choice) = chunk.first else {
            return;
        };
        if let Some(part) = choice.part {
            if part.output {
                self.state.output_started = true;
            }
            if let (Some(text), Some(acc)) = (part.content, self.state.text.as_mut()) {
                acc.push_str(&text);
            }
        }
        if let Some(reason) = choice.finish_reason {
            self.finish(reason);
        }
    }

    /// A chat choice's finish reason: the reply is finished (`error` is a failure).
    fn finish(&mut self, reason: &str) {
        self.state.finished = true;
        self.state.finish_reason = Some(reason.to_owned());
        if reason == "error" && self.state.failure.is_none() {
            let error = json!({"message": "the stream ended with finish_reason \"error\""});
            let failure = UpstreamError::mid_stream(&error, self.state.output_started, self.ctx());
            self.fail(failure, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpstreamErrorKind;

    const STREAM: &str = concat!(
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"gen-1\",\"model\":\"openai/gpt-5.4-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"gen-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"cost\":0.00012}}\n\n",
        "data: [DONE]\n\n",
    );

    fn tap_all(text: &str, split: usize, collect: bool) -> TapState {
        let mut tap = SseTap::new(
            Protocol::Chat,
            "openai/gpt-5.4-mini",
            "sk-or-v1-key",
            collect,
        );
        for chunk in text.as_bytes().chunks(split) {
            tap.feed(chunk);
        }
        tap.state
    }

    #[test]
    fn a_malformed_event_after_output_marks_the_cut() {
        let good = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        let bad = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bro\n\n";
        let mut tap = SseTap::new(Protocol::Chat, "m", "k", false);
        tap.feed(good.as_bytes());
        assert_eq!(tap.cut, None);
        let chunk = format!("{good}{bad}data: [DONE]\n\n");
        tap.feed(chunk.as_bytes());
        assert_eq!(tap.cut, Some(good.len()));
        let f = tap.state.failure.as_ref().unwrap();
        assert_eq!(f.kind, UpstreamErrorKind::Protocol);
        assert!(f.output_started);

        // Before output a bad event is a failure too, but nothing needs cutting (it is held).
        let mut tap = SseTap::new(Protocol::Chat, "m", "k", false);
        tap.feed(bad.as_bytes());
        assert_eq!(tap.cut, None);
        assert!(tap.state.failure.is_some());
    }

    #[test]
    fn sees_everything_at_any_split() {
        for split in [1, 3, 17, 64, STREAM.len()] {
            for text in [STREAM.to_string(), STREAM.replace('\n', "\r\n")] {
                let s = tap_all(&text, split, true);
                assert!(s.done && s.finished && s.output_started, "split {split}");
                assert_eq!(s.model.as_deref(), Some("openai/gpt-5.4-mini"));
                assert_eq!(s.text.as_deref(), Some("Hello world"));
                assert_eq!(
                    s.usage,
                    Some(Usage {
                        prompt_tokens: 5,
                        completion_tokens: 2,
                        cost: Some(0.00012)
                    })
                );
                assert!(s.failure.is_none());
            }
        }
    }

    #[test]
    fn role_chunk_is_not_output() {
        let first_two: String = STREAM.split_inclusive("\n\n").take(2).collect();
        let s = tap_all(&first_two, 7, false);
        assert!(!s.output_started && !s.done && !s.finished);
        assert!(s.text.is_none());
    }

    #[test]
    fn error_chunks_become_failures() {
        let text = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"error\":{\"code\":502,\"message\":\"Provider disconnected sk-or-v1-key\"},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
        );
        let s = tap_all(text, 5, false);
        let f = s.failure.unwrap();
        assert_eq!(f.kind, UpstreamErrorKind::Stream);
        assert!(f.output_started);
        assert!(f.message.contains("Provider disconnected"));
        assert!(!f.message.contains("sk-or-v1-key"));

        let s = tap_all(
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"error\":{\"code\":502,\"message\":\"x\"},\"finish_reason\":\"error\"}]}\n\n",
            4,
            false,
        );
        assert_eq!(s.failure.unwrap().kind, UpstreamErrorKind::ChoiceError);

        let s = tap_all("data: {not json\n\ndata: [DONE]\n\n", 3, false);
        assert_eq!(s.failure.unwrap().kind, UpstreamErrorKind::Protocol);
        assert!(s.done);
    }

    #[test]
    fn multi_line_data_is_joined() {
        let s = tap_all(
            "data: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"x\"}}]}\n\n",
            100,
            true,
        );
        assert_eq!(s.text.as_deref(), Some("x"));
    }

    fn tap_protocol(protocol: Protocol, text: &str, split: usize) -> TapState {
        let mut tap = SseTap::new(protocol, "m", "sk-or-v1-key", true);
        for chunk in text.as_bytes().chunks(split) {
            tap.feed(chunk);
        }
        tap.state
    }

    const RESPONSES: &str = concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"model\":\"openai/gpt-5.4-mini\",\"status\":\"in_progress\",\"error\":null,\"output\":[],\"usage\":null}}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo \\\"error\\\"\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"model\":\"openai/gpt-5.4-mini\",\"status\":\"completed\",\"error\":null,\"output\":[],\"usage\":{\"input_tokens\":4,\"output_tokens\":2,\"cost\":0.0001}}}\n\n",
    );

    #[test]
    fn responses_stream_is_understood_at_any_split() {
        for split in [1, 5, 64, RESPONSES.len()] {
            let s = tap_protocol(Protocol::Responses, RESPONSES, split);
            assert!(s.done && s.finished && s.output_started, "split {split}");
            assert_eq!(s.model.as_deref(), Some("openai/gpt-5.4-mini"));
            assert_eq!(s.text.as_deref(), Some("Hello \"error\""));
            assert_eq!(s.usage.unwrap().cost, Some(0.0001));
            assert!(s.failure.is_none(), "{:?}", s.failure);
        }
        let created: String = RESPONSES.split_inclusive("\n\n").take(1).collect();
        let s = tap_protocol(Protocol::Responses, &created, 3);
        assert!(!s.output_started && !s.done);
    }

    /// Opening an item or a part is not output: a stream is handed over (and a failure
    /// still falls back) only once a delta or a finished item came.
    #[test]
    fn responses_items_and_parts_opened_are_not_output_yet() {
        let opened = concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"openai/gpt-5.4-mini\"}}\n\n",
            "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"message\",\"content\":[]}}\n\n",
            "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"output_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\"}}\n\n",
            "event: response.reasoning_summary_part.added\ndata: {\"type\":\"response.reasoning_summary_part.added\",\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}\n\n",
        );
        for split in [1, 7, opened.len()] {
            assert!(!tap_protocol(Protocol::Responses, opened, split).output_started);
        }
        for first in [
            "{\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}",
            "{\"type\":\"response.function_call_arguments.delta\",\"delta\":\"{\\\"\"}",
            "{\"type\":\"response.output_item.done\",\"item\":{\"type\":\"message\"}}",
        ] {
            let text = format!("{opened}data: {first}\n\n");
            assert!(
                tap_protocol(Protocol::Responses, &text, 5).output_started,
                "{first}"
            );
        }
    }

    #[test]
    fn responses_failures_are_reported_or_not() {
        let failed = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"Provider died\"}}}\n\n";
        let s = tap_protocol(Protocol::Responses, failed, 7);
        let f = s.failure.unwrap();
        assert!(s.failure_reported && s.done && f.output_started);
        assert!(f.message.contains("Provider died"), "{}", f.message);

        let s = tap_protocol(Protocol::Responses, "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\ndata: {\"type\":\"response.outp\n\n", 4);
        assert!(!s.failure_reported);
        assert_eq!(s.failure.unwrap().kind, UpstreamErrorKind::Protocol);
    }

    const MESSAGES: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"anthropic/claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":5,\"cost\":0.002}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn messages_stream_is_understood_at_any_split() {
        for split in [1, 9, MESSAGES.len()] {
            let s = tap_protocol(Protocol::Messages, MESSAGES, split);
            assert!(s.done && s.finished && s.output_started);
            assert_eq!(s.text.as_deref(), Some("Hi"));
            assert_eq!(s.model.as_deref(), Some("anthropic/claude-sonnet-4-5"));
            assert_eq!(
                s.usage,
                Some(Usage {
                    prompt_tokens: 12,
                    completion_tokens: 5,
                    cost: Some(0.002)
                })
            );
        }
        let head: String = MESSAGES.split_inclusive("\n\n").take(3).collect();
        assert!(!tap_protocol(Protocol::Messages, &head, 2).output_started);
        let error = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let s = tap_protocol(Protocol::Messages, error, 6);
        assert!(s.failure_reported);
        assert!(s.failure.unwrap().message.contains("Overloaded"));
    }
}
