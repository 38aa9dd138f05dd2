//! Pass-through chat completions for the OpenAI-compatible facade. The request is shaped
//! exactly like a session's ([`crate::shape`]) and sent by the same transport, but the reply
//! comes back as bytes instead of a parsed [`crate::ChatOutcome`]: the JSON body after
//! validation, or the SSE stream chunk by chunk, untouched, once its first output event
//! has been validated. Until that point nothing has reached the client, so the same-model
//! retries here (and the caller's fallbacks) stay possible; after it, failures travel in
//! the stream.

mod probe;
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

use crate::client::{header_string, read_limited, OpenRouterClient, MAX_BODY};
use crate::error::{ErrorContext, UpstreamError};
use crate::redact::REDACTED;
use crate::response::body_error;
use crate::retry::{millis, with_minimal_thinking, Attempt, NextStep, RetryPolicy, RetryState};
use crate::shape;
use crate::types::ChatRequest;

use probe::ReplyProbe;
pub use probe::Usage;
use tap::SseTap;

/// A successful upstream reply, ready to forward.
pub enum RawReply {
    /// A complete `chat.completion` JSON body.
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
    /// The failure reported in the stream, or the transport failure that ended it.
    pub failure: Option<UpstreamError>,
}

/// An upstream SSE body being forwarded. Yields the upstream chunks unchanged (an
/// occurrence of the API key is redacted), then at most one `Err` when the stream broke
/// (cut off, stalled, or ended without `[DONE]` and without a finish reason). Dropping it
/// aborts the upstream request.
pub struct RawStream {
    held: VecDeque<Bytes>,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    tap: SseTap,
    key: Finder<'static>,
    ended: bool,
    transport_failure: Option<UpstreamError>,
    /// A failure to yield after the chunks already yielded (a malformed event was cut).
    pending: Option<UpstreamError>,
    /// `X-Generation-Id`.
    pub generation_id: Option<String>,
}

impl RawStream {
    /// Whether upstream already ended the stream with `data: [DONE]`.
    pub fn saw_done(&self) -> bool {
        self.tap.state.done
    }

    /// What the stream amounted to so far (call at the end, or when the client left).
    pub fn summary(&mut self) -> StreamSummary {
        let state = &mut self.tap.state;
        StreamSummary {
            done: state.done,
            output_started: state.output_started,
            model: state.model.clone(),
            usage: state.usage,
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
                    // Nothing after [DONE] is read (a server that keeps the body open
                    // afterwards must not hold the client).
                    self.ended = true;
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

impl OpenRouterClient {
    /// ONE pass-through attempt: sends `body` (already shaped for `req`) and waits for a
    /// validated reply. Every error is one that no client has seen any part of.
    async fn open_raw(
        &self,
        api_key: &str,
        req: &ChatRequest,
        body: Bytes,
        collect_text: bool,
    ) -> Result<RawReply, UpstreamError> {
        let ctx = ErrorContext {
            model: &req.model,
            api_key,
        };
        let response = self.send_chat(api_key, req, body, ctx).await?;
        let generation_id = header_string(response.headers(), "x-generation-id");
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        if !is_sse {
            let bytes = read_limited(response, MAX_BODY, ctx).await?;
            let mut completion = validate_body(&bytes, collect_text, ctx)?;
            let finder = Finder::new(api_key.as_bytes());
            completion.body = redact_key(&finder, Bytes::from(bytes));
            completion.text = completion.text.map(|t| redact_key_in_text(&finder, t));
            completion.generation_id = generation_id;
            return Ok(RawReply::Json(completion));
        }
        let mut stream = RawStream {
            held: VecDeque::new(),
            body: response.bytes_stream().boxed(),
            tap: SseTap::new(&req.model, api_key, collect_text),
            key: Finder::new(api_key.as_bytes()).into_owned(),
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
                    stream.ended = true;
                }
                return Ok(RawReply::Stream(Box::new(stream)));
            }
        }
    }
}

/// Checks a non-streaming body: valid JSON, no `error`, a first choice without `error`.
fn validate_body(
    bytes: &[u8],
    collect_text: bool,
    ctx: ErrorContext<'_>,
) -> Result<RawCompletion, UpstreamError> {
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
    Ok(RawCompletion {
        body: Bytes::new(),
        model: probe.model.as_deref().map(str::to_owned),
        usage: probe.usage.as_ref().map(|u| u.summary()),
        text: collect_text.then(|| message.text().unwrap_or_default().into_owned()),
        generation_id: None,
    })
}

/// Opens a pass-through reply for ONE model with the same retry policy as sessions
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
    let mut state = RetryState::default();
    let mut reasoning_retry: Option<ChatRequest> = None;
    let mut body = encode(req, client.is_verified(), api_key)?;
    loop {
        let current = reasoning_retry.as_ref().unwrap_or(req);
        let started = Instant::now();
        let result = client
            .open_raw(api_key, current, body.clone(), collect_text)
            .await;
        let elapsed = started.elapsed();
        *upstream_wait += elapsed;
        let mut error = match result {
            Ok(reply) => {
                attempts.push(Attempt {
                    model: current.model.clone(),
                    status: Some(200),
                    error_code: None,
                    latency_ms: millis(elapsed),
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
        });
        match state.after_failure(&mut error, current.thinking, policy) {
            NextStep::RetryWithMinimalThinking => {
                let retry = with_minimal_thinking(req);
                body = encode(&retry, client.is_verified(), api_key)?;
                reasoning_retry = Some(retry);
            }
            NextStep::RetryAfter(delay) => {
                tokio::time::sleep(delay).await;
                *upstream_wait += delay;
            }
            NextStep::GiveUp => return Err(error),
        }
    }
}

/// The shaped request body, encoded once and reused by every retry.
fn encode(req: &ChatRequest, verified: bool, api_key: &str) -> Result<Bytes, UpstreamError> {
    serde_json::to_vec(&shape::build_body(req, verified))
        .map(Bytes::from)
        .map_err(|e| {
            UpstreamError::protocol(
                &format!("cannot encode the request ({e})"),
                false,
                ErrorContext {
                    model: &req.model,
                    api_key,
                },
            )
        })
}
