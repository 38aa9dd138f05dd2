//! Incremental SSE framing for the pass-through stream. Chunks are forwarded untouched;
//! the tap only watches them: it splits lines across chunk boundaries (LF or CRLF),
//! joins an event's `data:` lines, skips `:` comments, and inspects each event. An event
//! is parsed (with the cheap [`ReplyProbe`]) only when it can matter: before the first
//! output, when text is being collected, or when it mentions `"error"`, `"usage"` or a
//! non-null `"finish_reason"`. Plain content chunks in the middle of a stream cost a few
//! substring scans and one validating pass (`IgnoredAny`), with no allocation. An event that is not valid JSON after output
//! started marks where the current chunk must be cut ([`SseTap::cut`]), so the client gets
//! an error event instead of the broken one.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::de::IgnoredAny;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::{ErrorContext, UpstreamError};
use crate::passthrough::probe::{ReplyProbe, Usage};

static ERROR_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"error\""));
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static FINISH_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"finish_reason\""));
static FINISH_NULL: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"\"finish_reason\":null"));

/// What the tap learned from the events seen so far.
#[derive(Debug, Default)]
pub(crate) struct TapState {
    /// `data: [DONE]` was seen.
    pub done: bool,
    /// A non-null `finish_reason` was seen.
    pub finished: bool,
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
}

/// Watches an SSE byte stream event by event.
pub(crate) struct SseTap {
    partial: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    model: String,
    api_key: Zeroizing<String>,
    /// Where in the chunk being fed the current event began (`None`: in an earlier chunk).
    event_start: Option<usize>,
    /// Set by [`SseTap::feed`] when an event of the chunk just fed is malformed after
    /// output started: only the bytes before this offset may be forwarded.
    pub cut: Option<usize>,
    pub state: TapState,
}

impl SseTap {
    /// A tap for a reply to `model`; `api_key` only serves to redact error messages.
    pub fn new(model: &str, api_key: &str, collect_text: bool) -> Self {
        SseTap {
            partial: Vec::new(),
            data: Vec::with_capacity(512),
            has_data: false,
            model: model.to_owned(),
            api_key: Zeroizing::new(api_key.to_owned()),
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
        self.event_start = None;
        let mut rest = chunk;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            let start = chunk.len() - rest.len();
            let (line, after) = (&rest[..pos], &rest[pos + 1..]);
            rest = after;
            if self.partial.is_empty() {
                self.line(line, Some(start));
            } else {
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(line);
                self.line(&joined, None);
                joined.clear();
                self.partial = joined;
            }
        }
        self.partial.extend_from_slice(rest);
    }

    fn line(&mut self, line: &[u8], start: Option<usize>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if !self.has_data {
                self.event_start = start;
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }

    fn dispatch(&mut self) {
        if !self.has_data {
            return;
        }
        let data = std::mem::take(&mut self.data);
        self.inspect(&data);
        self.data = data;
        self.data.clear();
        self.has_data = false;
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
        let worth_parsing = !self.state.output_started
            || self.state.text.is_some()
            || ERROR_KEY.find(d).is_some()
            || USAGE_KEY.find(d).is_some()
            || (FINISH_KEY.find(d).is_some() && FINISH_NULL.find(d).is_none());
        let parsed = if worth_parsing {
            serde_json::from_slice::<ReplyProbe>(d)
        } else {
            // Only validated: one scan, nothing built.
            match serde_json::from_slice::<IgnoredAny>(d) {
                Ok(_) => return,
                Err(e) => Err(e),
            }
        };
        let probe = match parsed {
            Ok(p) => p,
            Err(e) => {
                let failure = UpstreamError::protocol(
                    &format!("stream chunk is not valid JSON ({e})"),
                    self.state.output_started,
                    self.ctx(),
                );
                if self.state.output_started && self.state.failure.is_none() {
                    self.cut = Some(self.event_start.unwrap_or(0));
                }
                self.state.failure.get_or_insert(failure);
                return;
            }
        };
        if self.state.model.is_none() {
            self.state.model = probe.model.as_deref().map(str::to_owned);
        }
        if let Some(u) = &probe.usage {
            self.state.usage = Some(u.summary());
        }
        if let Some(error) = probe.error.as_ref().filter(|e| !e.is_null()) {
            let failure = UpstreamError::mid_stream(error, self.state.output_started, self.ctx());
            self.state.failure.get_or_insert(failure);
        }
        let Some(choice) = probe.first_choice() else {
            return;
        };
        if let Some(error) = choice.error.as_ref().filter(|e| !e.is_null()) {
            let failure = UpstreamError::choice_error(error, self.state.output_started, self.ctx());
            self.state.failure.get_or_insert(failure);
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
            self.state.finished = true;
            if reason == "error" && self.state.failure.is_none() {
                let error = json!({"message": "the stream ended with finish_reason \"error\""});
                let failure =
                    UpstreamError::mid_stream(&error, self.state.output_started, self.ctx());
                self.state.failure = Some(failure);
            }
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
        let mut tap = SseTap::new("openai/gpt-5.4-mini", "sk-or-v1-key", collect);
        for chunk in text.as_bytes().chunks(split) {
            tap.feed(chunk);
        }
        tap.state
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
    fn a_malformed_event_after_output_marks_the_cut() {
        let good = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        let bad = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bro\n\n";
        let mut tap = SseTap::new("m", "k", false);
        tap.feed(good.as_bytes());
        assert_eq!(tap.cut, None);
        let chunk = format!("{good}{bad}data: [DONE]\n\n");
        tap.feed(chunk.as_bytes());
        assert_eq!(tap.cut, Some(good.len()));
        let f = tap.state.failure.as_ref().unwrap();
        assert_eq!(f.kind, UpstreamErrorKind::Protocol);
        assert!(f.output_started);

        // Before output, a bad event is a failure but nothing needs cutting (it is held).
        let mut tap = SseTap::new("m", "k", false);
        tap.feed(bad.as_bytes());
        assert_eq!(tap.cut, None);
        assert!(tap.state.failure.is_some());
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
}
