//! The response body of a streamed facade call: upstream SSE chunks forwarded one by one
//! as they arrive (no coalescing, no buffering), always ending with `data: [DONE]`. A
//! stream that breaks after output started ends with an OpenAI-style error event first.
//! When the shutdown grace period ends first, the stream ends with an `interrupted` error
//! event. When the stream ends — or the client goes away — its usage is counted and, when
//! recording, the run is finished.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ferry_engine::{CallGuard, Engine, EngineError, FacadeRunEnd};
use ferry_metrics::InFlight;
use ferry_openrouter::{RawStream, StreamSummary};
use futures::{FutureExt, Stream, StreamExt};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::problem::Problem;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// What is needed to account for the stream once it ends.
pub struct StreamEnd {
    pub engine: Engine,
    pub route: String,
    pub model: String,
    pub started: Instant,
    pub record: Option<(String, String)>,
    pub attempts: Vec<ferry_openrouter::Attempt>,
    pub _in_flight: InFlight,
    /// Keeps a shutdown waiting for this stream (during the grace period).
    pub _call: CallGuard,
}

/// The facade's SSE body.
pub struct FacadeStream {
    inner: Box<RawStream>,
    tail: Option<Bytes>,
    finished: bool,
    grace_over: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Set when the stream was cut at the end of the shutdown grace.
    interrupted: bool,
    end: Option<StreamEnd>,
}

impl FacadeStream {
    pub fn new(inner: Box<RawStream>, end: StreamEnd) -> Self {
        FacadeStream {
            inner,
            tail: None,
            finished: false,
            grace_over: Box::pin(end._call.grace_over()),
            interrupted: false,
            end: Some(end),
        }
    }

    /// Accounts for the stream (once): usage, and the recorded run.
    fn settle(&mut self, client_left: bool) {
        let Some(end) = self.end.take() else {
            return;
        };
        let summary: StreamSummary = self.inner.summary();
        let model = summary.model.clone().unwrap_or_else(|| end.model.clone());
        if let Some(u) = summary.usage {
            end.engine.metrics().usage(
                &end.route,
                &model,
                u.prompt_tokens,
                u.completion_tokens,
                u.cost,
            );
        }
        let Some((run_id, session)) = end.record else {
            return;
        };
        let error = match (&summary.failure, client_left) {
            _ if self.interrupted => {
                let e = EngineError::Interrupted;
                Some((e.code().to_string(), e.to_string()))
            }
            (Some(e), _) => Some((e.code().to_string(), e.message.clone())),
            (None, true) if !summary.done => Some((
                "client_disconnected".to_string(),
                "the client closed the stream before it ended".to_string(),
            )),
            _ => None,
        };
        end.engine.facade_record_finish(
            run_id,
            session,
            FacadeRunEnd {
                route: Some(end.route),
                model: Some(end.model),
                model_served: summary.model,
                usage: summary.usage,
                text: summary.text,
                error,
                attempts: end.attempts,
                generation_id: self.inner.generation_id.clone(),
                duration_ms: u64::try_from(end.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
        );
    }
}

/// An OpenAI-style error event followed by `[DONE]`.
fn error_tail(e: EngineError) -> Bytes {
    let problem = Problem::from(e);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&problem.openai_body());
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(DONE);
    Bytes::from(out)
}

impl Stream for FacadeStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(self.tail.take().map(Ok));
        }
        if !self.inner.saw_done() && self.grace_over.poll_unpin(cx).is_ready() {
            self.finished = true;
            self.interrupted = true;
            self.settle(false);
            tracing::warn!("shutdown grace over; facade stream ended with an error event");
            return Poll::Ready(Some(Ok(error_tail(EngineError::Interrupted))));
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                self.settle(false);
                tracing::warn!(code = e.code(), error = %e.message, "facade stream failed after output; ended with an error event");
                Poll::Ready(Some(Ok(error_tail(EngineError::from(e)))))
            }
            Poll::Ready(None) => {
                self.finished = true;
                self.settle(false);
                if self.inner.saw_done() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Bytes::from_static(DONE))))
                }
            }
        }
    }
}

impl Drop for FacadeStream {
    fn drop(&mut self) {
        self.settle(true);
    }
}
