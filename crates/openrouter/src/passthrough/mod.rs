//! Pass-through calls for the facade's client protocols (chat completions, Responses,
//! Anthropic Messages, embeddings). A chat request is shaped exactly like a session's
//! ([`crate::shape`]), the others by [`crate::shape::encode_pass_body`]; all are sent by the
//! same transport, and the reply comes back as bytes instead of a parsed
//! [`crate::ChatOutcome`]: the JSON body after validation, or the SSE stream chunk by
//! chunk, untouched, once its first output event has been validated. Until that point
//! nothing has reached the client, so the same-model retries here (and the caller's
//! fallbacks) stay possible; after it, failures travel in the stream.

mod events;
mod probe;
mod quick_reply;
mod tap;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use memchr::memmem::Finder;
use reqwest::header::CONTENT_TYPE;
use tokio_util::task::TaskTracker;

use ferry_config::ThinkingLevel;
use reqwest::header::HeaderMap;

use crate::client::{header_string, read_limited, OpenRouterClient, MAX_BODY};
use crate::error::{ErrorContext, UpstreamError};
use crate::redact::REDACTED;
use crate::response::body_error;
use crate::retry::{millis, with_minimal_thinking, Attempt, NextStep, RetryPolicy, RetryState};
use crate::shape;
use crate::types::{ChatRequest, PassRequest, Protocol};

use events::{EmbeddingsBody, MessageObject, ResponseObject};
use probe::ReplyProbe;
pub use probe::Usage;
use tap::SseTap;

/// A successful upstream reply, ready to forward.
pub enum RawReply {
    /// A complete JSON body (`chat.completion`, `response`, `message`, embeddings list).
    Json(RawCompletion),
    /// An SSE stream whose first output event has arrived.
    Stream(Box<RawStream>),
}

/// A validated non-streaming reply.
#[derive(Debug)]
pub struct RawCompletion {
    /// The body exactly as upstream sent it (already OpenAI-shaped).
    pub body: Bytes,
    /// The model that served.
    pub model: Option<String>,
    /// Tokens and cost.
    pub usage: Option<Usage>,
    /// The visible text, when text collection was asked for.
    pub text: Option<String>,
    /// `X-Generation-Id`.
    pub generation_id: Option<String>,
    /// Why the reply ended (`finish_reason`, `stop_reason`, the Responses status).
    pub finish_reason: Option<String>,
}

/// What a finished (or abandoned) stream amounted to.
#[derive(Debug, Default)]
pub struct StreamSummary {
    /// Upstream sent `data: [DONE]`.
    pub done: bool,
    /// Any output event was forwarded.
    pub output_started: bool,
    /// The model that served.
    pub model: Option<String>,
    /// Tokens and cost, when the usage chunk arrived.
    pub usage: Option<Usage>,
    /// The visible text, when text collection was asked for.
    pub text: Option<String>,
    /// Why the reply ended, when it said (`finish_reason`, `stop_reason`, the Responses
    /// status).
    pub finish_reason: Option<String>,
    /// The failure reported in the stream, or the transport failure that ended it.
    pub failure: Option<UpstreamError>,
    /// The failure reached the client as the protocol's own error event (else the client
    /// must be told with one of ferry's).
    pub failure_reported: bool,
}

/// How long what upstream sends after a stream's protocol end is read off in the
/// background before the connection is given up (see `RawStream::end_at_protocol_end`).
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// How much of it is read off at most.
const DRAIN_BYTES: usize = 64 * 1024;

/// An upstream SSE body being forwarded. Yields the upstream chunks unchanged (an
/// occurrence of the API key is redacted), then at most one `Err` when the stream broke
/// (cut off, stalled, or ended without `[DONE]` and without a finish reason). Dropping it
/// aborts the upstream request.
pub struct RawStream {
    protocol: Protocol,
    held: VecDeque<Bytes>,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    tap: SseTap,
    key: Finder<'static>,
    ended: bool,
    transport_failure: Option<UpstreamError>,
    /// A failure to yield after the chunks already yielded (a malformed event was cut).
    pending: Option<UpstreamError>,
    /// The client's background tasks (reading off the body after the protocol's end).
    background: TaskTracker,
    /// `X-Generation-Id`.
    pub generation_id: Option<String>,
}

impl RawStream {
    /// The protocol of the stream.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether upstream already ended the stream the protocol's way (`data: [DONE]` for
    /// chat, `response.completed|failed|incomplete`, `message_stop`).
    pub fn saw_done(&self) -> bool {
        self.tap.state.done
    }

    /// What the stream amounted to so far (call at the end, or when the client left).
    pub fn summary(&mut self) -> StreamSummary {
        let reported = self.transport_failure.is_none() && self.tap.state.failure_reported;
        let state = &mut self.tap.state;
        StreamSummary {
            failure_reported: reported,
            done: state.done,
            output_started: state.output_started,
            model: state.model.clone(),
            usage: state.usage,
            finish_reason: state.finish_reason.clone(),
            text: state.text.take().map(|t| redact_key_in_text(&self.key, t)),
            failure: self
                .transport_failure
                .take()
                .or_else(|| state.failure.clone()),
        }
    }

    fn redact(&self, chunk: Bytes) -> Bytes {
        redact_key(&self.key, chunk)
    }

    /// Ends the stream at the protocol's end. What upstream still sends after it (a
    /// Responses stream's trailing `data: [DONE]`, the body's last chunk) is read off in
    /// the background, so the connection goes back to the pool: dropped unread, hyper
    /// closes it and the next call pays a new connection (and, to OpenRouter, a new TLS
    /// handshake). The client is not held by it; the reading stops after [`DRAIN_TIME`]
    /// or [`DRAIN_BYTES`], whichever comes first, and the connection is then closed.
    fn end_at_protocol_end(&mut self) {
        self.ended = true;
        let mut body = std::mem::replace(&mut self.body, futures::stream::empty().boxed());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.background.spawn_on(
            async move {
                let drain = async {
                    let mut read = 0;
                    while let Some(Ok(chunk)) = body.next().await {
                        read += chunk.len();
                        if read > DRAIN_BYTES {
                            return;
                        }
                    }
                };
                let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            },
            &runtime,
        );
    }

    fn transport_error(&self, e: &reqwest::Error) -> UpstreamError {
        let started = self.tap.state.output_started;
        if e.is_timeout() {
            UpstreamError::timeout(started, self.tap.ctx(), "stream went idle")
        } else {
            UpstreamError::truncated(
                started,
                self.tap.ctx(),
                &format!("connection closed: {}", crate::client::error_chain(e)),
            )
        }
    }
}

impl Stream for RawStream {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(chunk) = self.held.pop_front() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(failure) = self.pending.take() {
            return Poll::Ready(Some(Err(failure)));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        match self.body.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(mut chunk))) => {
                self.tap.feed(&chunk);
                if self.tap.state.done {
                    // Nothing after [DONE] reaches the client (a server that keeps the
                    // body open afterwards must not hold it).
                    self.end_at_protocol_end();
                }
                if let Some(cut) = self.tap.cut.take() {
                    // A malformed event after output: it and what follows are not
                    // forwarded; the failure ends the stream instead.
                    self.ended = true;
                    self.pending = self.tap.state.failure.clone();
                    chunk.truncate(cut);
                    if chunk.is_empty() {
                        return Poll::Ready(self.pending.take().map(Err));
                    }
                }
                let chunk = self.redact(chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                let error = self.transport_error(&e);
                self.transport_failure = Some(error.clone());
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                self.ended = true;
                let state = &self.tap.state;
                if state.done || state.finished || state.failure.is_some() {
                    return Poll::Ready(None);
                }
                let error = UpstreamError::truncated(
                    state.output_started,
                    self.tap.ctx(),
                    "no [DONE] and no finish_reason",
                );
                self.transport_failure = Some(error.clone());
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}

/// Replaces every occurrence of the key `finder` looks for with `[REDACTED]` (a copy is
/// made only when there is one).
fn redact_key(finder: &Finder<'_>, chunk: Bytes) -> Bytes {
    let needle = finder.needle().len();
    if needle == 0 || finder.find(&chunk).is_none() {
        return chunk;
    }
    let mut out = Vec::with_capacity(chunk.len());
    let mut rest: &[u8] = &chunk;
    while let Some(i) = finder.find(rest) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(REDACTED.as_bytes());
        rest = &rest[i + needle..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// [`redact_key`] for collected text (which is recorded in runs when recording is on).
fn redact_key_in_text(finder: &Finder<'_>, text: String) -> String {
    if finder.needle().is_empty() || finder.find(text.as_bytes()).is_none() {
        return text;
    }
    let bytes = redact_key(finder, Bytes::from(text.into_bytes()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One shaped attempt: the encoded body and headers for one protocol endpoint.
struct Outgoing {
    protocol: Protocol,
    model: String,
    thinking: Option<ThinkingLevel>,
    body: Bytes,
    headers: HeaderMap,
}

impl Outgoing {
    fn chat(
        client: &OpenRouterClient,
        req: &ChatRequest,
        api_key: &str,
    ) -> Result<Self, UpstreamError> {
        let encoded = shape::encode_body(req, client.is_verified());
        Ok(Outgoing {
            protocol: Protocol::Chat,
            model: req.model.clone(),
            thinking: req.thinking,
            body: encode(encoded, &req.model, api_key)?,
            headers: client.chat_headers(req),
        })
    }

    fn pass(
        client: &OpenRouterClient,
        req: &PassRequest,
        api_key: &str,
    ) -> Result<Self, UpstreamError> {
        let encoded = shape::encode_pass_body(req, client.is_verified());
        Ok(Outgoing {
            protocol: req.protocol,
            model: req.model.clone(),
            thinking: None,
            body: encode(encoded, &req.model, api_key)?,
            headers: client.pass_headers(req),
        })
    }
}

impl OpenRouterClient {
    /// ONE pass-through attempt: sends the shaped request and waits for a validated
    /// reply. Every error is one that no client has seen any part of.
    async fn open_raw(
        &self,
        api_key: &str,
        out: &Outgoing,
        collect_text: bool,
    ) -> Result<RawReply, UpstreamError> {
        let ctx = ErrorContext {
            model: &out.model,
            api_key,
        };
        let response = self
            .send_protocol(
                None,
                api_key,
                out.protocol,
                out.headers.clone(),
                out.body.clone(),
                ctx,
            )
            .await?;
        let generation_id = header_string(response.headers(), "x-generation-id");
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        if !is_sse {
            let bytes = read_limited(response, MAX_BODY, ctx).await?;
            let mut completion = validate_body(out.protocol, &bytes, collect_text, ctx)?;
            let finder = Finder::new(api_key.as_bytes());
            completion.body = redact_key(&finder, Bytes::from(bytes));
            completion.text = completion.text.map(|t| redact_key_in_text(&finder, t));
            completion.generation_id = generation_id;
            return Ok(RawReply::Json(completion));
        }
        let mut stream = RawStream {
            protocol: out.protocol,
            held: VecDeque::new(),
            body: response.bytes_stream().boxed(),
            tap: SseTap::new(out.protocol, &out.model, api_key, collect_text),
            key: Finder::new(api_key.as_bytes()).into_owned(),
            background: self.inner.background.clone(),
            ended: false,
            transport_failure: None,
            pending: None,
            generation_id,
        };
        loop {
            match stream.body.next().await {
                Some(Ok(chunk)) => {
                    stream.tap.feed(&chunk);
                    let chunk = stream.redact(chunk);
                    stream.held.push_back(chunk);
                }
                Some(Err(e)) => {
                    let mut error = stream.transport_error(&e);
                    error.output_started = false;
                    return Err(error);
                }
                None => {
                    let state = &stream.tap.state;
                    if state.failure.is_none() && (state.done || state.finished) {
                        stream.ended = true;
                        return Ok(RawReply::Stream(Box::new(stream)));
                    }
                    if state.failure.is_none() {
                        return Err(UpstreamError::truncated(
                            false,
                            stream.tap.ctx(),
                            "the stream ended before any output",
                        ));
                    }
                }
            }
            let state = &mut stream.tap.state;
            if let Some(mut failure) = state.failure.take() {
                // Held back, so no client saw any of it: retries and fallbacks stay open.
                failure.output_started = false;
                return Err(failure);
            }
            if state.output_started || state.done || state.finished {
                if state.done {
                    stream.end_at_protocol_end();
                }
                return Ok(RawReply::Stream(Box::new(stream)));
            }
        }
    }
}

/// Checks a non-streaming body of `protocol`: valid JSON, no error, the reply's payload
/// present.
fn validate_body(
    protocol: Protocol,
    bytes: &[u8],
    collect_text: bool,
    ctx: ErrorContext<'_>,
) -> Result<RawCompletion, UpstreamError> {
    let not_json = |e: serde_json::Error| {
        UpstreamError::protocol(&format!("body is not valid JSON ({e})"), false, ctx)
    };
    let failed = |error: &serde_json::Value| Err(body_error(error, bytes, ctx));
    let done = |model: Option<&str>, usage, text: Option<String>, finish: Option<&str>| {
        Ok(RawCompletion {
            body: Bytes::new(),
            model: model.map(str::to_owned),
            usage,
            text: text.filter(|_| collect_text),
            generation_id: None,
            finish_reason: finish.map(str::to_owned),
        })
    };
    match protocol {
        Protocol::Chat => {}
        Protocol::Responses => {
            let r: ResponseObject = serde_json::from_slice(bytes).map_err(not_json)?;
            if let Some(error) = r.error.as_ref().filter(|e| !e.is_null()) {
                return failed(error);
            }
            if r.status.as_deref() == Some("failed") {
                return failed(&serde_json::json!({"message": "the response failed"}));
            }
            if r.output.is_none() {
                return Err(UpstreamError::protocol(
                    "response has no output",
                    false,
                    ctx,
                ));
            }
            return done(
                r.model.as_deref(),
                r.usage.as_ref().map(|u| u.summary()),
                Some(r.text()),
                r.status.as_deref(),
            );
        }
        Protocol::Messages => {
            let m: MessageObject = serde_json::from_slice(bytes).map_err(not_json)?;
            if let Some(error) = m.error.as_ref().filter(|e| !e.is_null()) {
                return failed(error);
            }
            if m.kind.as_deref() != Some("message") || m.content.is_none() {
                return Err(UpstreamError::protocol(
                    "reply is not a message",
                    false,
                    ctx,
                ));
            }
            return done(
                m.model.as_deref(),
                m.usage.as_ref().map(|u| u.summary()),
                Some(m.text()),
                m.stop_reason.as_deref(),
            );
        }
        Protocol::Embeddings => {
            let e: EmbeddingsBody = serde_json::from_slice(bytes).map_err(not_json)?;
            if let Some(error) = e.error.as_ref().filter(|e| !e.is_null()) {
                return failed(error);
            }
            if e.data.is_none() {
                return Err(UpstreamError::protocol("reply has no data", false, ctx));
            }
            return done(
                e.model.as_deref(),
                e.usage.as_ref().map(|u| u.summary()),
                None,
                None,
            );
        }
    }
    // The usual reply in one scan; anything else (an error, content parts, a body that
    // is not JSON) is read by the serde probe below, which says what is wrong.
    if let Some(reply) = quick_reply::read(bytes) {
        return done(
            reply.model,
            reply.usage,
            collect_text.then(|| reply.text.into_owned()),
            reply.finish_reason,
        );
    }
    let probe: ReplyProbe = serde_json::from_slice(bytes).map_err(|e| {
        UpstreamError::protocol(&format!("body is not valid JSON ({e})"), false, ctx)
    })?;
    if let Some(error) = probe.error.as_ref().filter(|e| !e.is_null()) {
        return Err(body_error(error, bytes, ctx));
    }
    let choice = probe
        .first_choice()
        .ok_or_else(|| UpstreamError::protocol("response has no choices", false, ctx))?;
    if let Some(error) = choice.error.as_ref().filter(|e| !e.is_null()) {
        return Err(UpstreamError::choice_error(error, false, ctx));
    }
    let message = choice
        .message
        .as_ref()
        .ok_or_else(|| UpstreamError::protocol("choice has no message", false, ctx))?;
    done(
        probe.model.as_deref(),
        probe.usage.as_ref().map(|u| u.summary()),
        collect_text.then(|| message.text().unwrap_or_default().into_owned()),
        choice.finish_reason.as_deref(),
    )
}

/// Opens a pass-through chat reply for ONE model with the same retry policy as sessions
/// (bounded back-off on 429/5xx/timeouts/connect errors, one retry with thinking =
/// minimal when the model insists on reasoning). Every attempt is appended to `attempts`;
/// the time spent waiting on upstream (each attempt until its reply was validated, and the
/// back-off between attempts) is added to `upstream_wait` — the rest of a request's time
/// is ferry's own.
pub async fn open_raw_with_retries(
    client: &OpenRouterClient,
    api_key: &str,
    req: &ChatRequest,
    policy: &RetryPolicy,
    collect_text: bool,
    attempts: &mut Vec<Attempt>,
    upstream_wait: &mut Duration,
) -> Result<RawReply, UpstreamError> {
    let first = Outgoing::chat(client, req, api_key)?;
    let minimal = || Outgoing::chat(client, &with_minimal_thinking(req), api_key);
    open_with_retries(
        client,
        api_key,
        first,
        Some(&minimal),
        policy,
        collect_text,
        attempts,
        upstream_wait,
    )
    .await
}

/// [`open_raw_with_retries`] for a Responses, Messages or embeddings request.
pub async fn open_pass_with_retries(
    client: &OpenRouterClient,
    api_key: &str,
    req: &PassRequest,
    policy: &RetryPolicy,
    collect_text: bool,
    attempts: &mut Vec<Attempt>,
    upstream_wait: &mut Duration,
) -> Result<RawReply, UpstreamError> {
    let first = Outgoing::pass(client, req, api_key)?;
    open_with_retries(
        client,
        api_key,
        first,
        None,
        policy,
        collect_text,
        attempts,
        upstream_wait,
    )
    .await
}

type Reshape<'a> = dyn Fn() -> Result<Outgoing, UpstreamError> + Send + Sync + 'a;

#[allow(clippy::too_many_arguments)]
async fn open_with_retries(
    client: &OpenRouterClient,
    api_key: &str,
    first: Outgoing,
    with_minimal_thinking: Option<&Reshape<'_>>,
    policy: &RetryPolicy,
    collect_text: bool,
    attempts: &mut Vec<Attempt>,
    upstream_wait: &mut Duration,
) -> Result<RawReply, UpstreamError> {
    let mut state = RetryState::default();
    let mut current = first;
    loop {
        let started = Instant::now();
        // Boxed: the attempt's future (reqwest's request, the body read) is kilobytes;
        // inline, every future that awaits this one would be as large and be copied
        // whole each time it is moved (measured: a quarter of a facade request's
        // instructions were such copies).
        let result = Box::pin(client.open_raw(api_key, &current, collect_text)).await;
        let elapsed = started.elapsed();
        *upstream_wait += elapsed;
        let mut error = match result {
            Ok(reply) => {
                attempts.push(Attempt {
                    model: current.model.clone(),
                    status: Some(200),
                    error_code: None,
                    latency_ms: millis(elapsed),
                    generation_id: match &reply {
                        RawReply::Json(c) => c.generation_id.clone(),
                        RawReply::Stream(s) => s.generation_id.clone(),
                    },
                });
                return Ok(reply);
            }
            Err(e) => e,
        };
        attempts.push(Attempt {
            model: current.model.clone(),
            status: error.status,
            error_code: Some(error.code().to_owned()),
            latency_ms: millis(elapsed),
            generation_id: error.generation_id.clone(),
        });
        let thinking = if with_minimal_thinking.is_some() {
            current.thinking
        } else {
            // Only chat requests are reshaped; the others give up as usual.
            Some(ThinkingLevel::Minimal)
        };
        match state.after_failure(&mut error, thinking, policy) {
            NextStep::RetryWithMinimalThinking => {
                if let Some(reshape) = with_minimal_thinking {
                    current = reshape()?;
                }
            }
            NextStep::RetryAfter(delay) => {
                tokio::time::sleep(delay).await;
                *upstream_wait += delay;
            }
            NextStep::GiveUp => return Err(error),
        }
    }
}

/// A shaped request body, encoded once and reused by every retry.
fn encode(
    encoded: serde_json::Result<Vec<u8>>,
    model: &str,
    api_key: &str,
) -> Result<Bytes, UpstreamError> {
    encoded.map(Bytes::from).map_err(|e| {
        UpstreamError::protocol(
            &format!("cannot encode the request ({e})"),
            false,
            ErrorContext { model, api_key },
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    const COMPLETED: &str = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"output\":[]}}\n\n";

    /// A Responses stream over `tail` after its `response.completed` chunk; counts the
    /// tail's chunks as they are read.
    fn responses_stream(
        tail: impl Stream<Item = Bytes> + Send + 'static,
        background: &TaskTracker,
    ) -> (RawStream, Arc<AtomicUsize>) {
        let read = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&read);
        let body = futures::stream::iter([Bytes::from_static(COMPLETED.as_bytes())])
            .chain(tail.inspect(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            }))
            .map(Ok)
            .boxed();
        let stream = RawStream {
            protocol: Protocol::Responses,
            held: VecDeque::new(),
            body,
            tap: SseTap::new(Protocol::Responses, "m", "sk-or-v1-key", false),
            key: Finder::new(b"sk-or-v1-key").into_owned(),
            background: background.clone(),
            ended: false,
            transport_failure: None,
            pending: None,
            generation_id: None,
        };
        (stream, read)
    }

    /// Reads the stream to its end for the client: its one chunk, then the end.
    async fn read_to_the_protocol_end(stream: &mut RawStream) {
        let first = stream.next().await.expect("a chunk").expect("not an error");
        assert_eq!(first, COMPLETED);
        assert!(
            stream.next().await.is_none(),
            "the stream ends at its protocol end"
        );
    }

    #[tokio::test]
    async fn what_follows_the_protocol_end_is_read_off_in_the_background() {
        let tasks = TaskTracker::new();
        let tail = futures::stream::iter([Bytes::from_static(b"data: [DONE]\n\n"), Bytes::new()]);
        let (mut stream, read) = responses_stream(tail, &tasks);
        read_to_the_protocol_end(&mut stream).await;
        tasks.close();
        tasks.wait().await;
        assert_eq!(read.load(Ordering::SeqCst), 2, "the whole tail was read");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_kept_open_after_the_end_is_given_up_after_the_drain_time() {
        let tasks = TaskTracker::new();
        let (mut stream, _) = responses_stream(futures::stream::pending(), &tasks);
        read_to_the_protocol_end(&mut stream).await;
        tasks.close();
        let started = tokio::time::Instant::now();
        tokio::time::timeout(DRAIN_TIME * 2, tasks.wait())
            .await
            .expect("the read-off gives up");
        assert_eq!(started.elapsed(), DRAIN_TIME);
    }

    #[tokio::test]
    async fn an_endless_tail_is_read_off_to_the_byte_limit_only() {
        let tasks = TaskTracker::new();
        // Each chunk lets the runtime run (a tail read without the byte limit would then
        // end at the drain time, with far more read, instead of spinning forever).
        let tail = futures::stream::repeat(Bytes::from_static(&[b' '; 1024])).then(|b| async {
            tokio::task::yield_now().await;
            b
        });
        let (mut stream, read) = responses_stream(tail, &tasks);
        read_to_the_protocol_end(&mut stream).await;
        tasks.close();
        tasks.wait().await;
        assert_eq!(read.load(Ordering::SeqCst), DRAIN_BYTES / 1024 + 1);
    }
}
