//! The response body of a streamed facade call: upstream SSE chunks forwarded one by one
//! as they arrive, no coalescing, no buffering (the events before the first output are
//! held by `ferry_openrouter::passthrough` and leave with it). A stream that breaks after
//! output started — cut off, stalled, or an event that is not valid JSON — ends with the
//! protocol's own error event (and a warn log line); an error event upstream sent itself
//! is forwarded as is. A chat stream always ends with `data: [DONE]`. When the shutdown
//! grace period ends first, the stream ends with the protocol's error event for
//! `interrupted` (the one signal of its `CallGuard`). When the stream ends — or the client
//! goes away — its usage is counted and, when recording, the run is finished.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ferry_engine::{
    Admission, CallGuard, Engine, EngineError, FacadeCallTrace, FacadeRunEnd, Spent,
};
use ferry_metrics::InFlight;
use ferry_openrouter::{RawStream, StreamSummary, UpstreamError};
use futures::{FutureExt, Stream, StreamExt};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::dialect::Dialect;
use crate::problem::Problem;

/// What is needed to account for the stream once it ends.
pub struct StreamEnd {
    pub engine: Engine,
    pub dialect: Dialect,
    pub route: String,
    pub model: String,
    pub started: Instant,
    pub record: Option<(String, String)>,
    pub attempts: Vec<ferry_openrouter::Attempt>,
    /// The call's budget admission, settled with the stream's usage when it ends.
    pub admission: Option<Admission>,
    pub _in_flight: InFlight,
    /// Keeps a shutdown waiting for this stream (during the grace period).
    pub _call: CallGuard,
}

/// The facade's SSE body.
pub struct FacadeStream {
    inner: Box<RawStream>,
    dialect: Dialect,
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
            dialect: end.dialect,
            finished: false,
            grace_over: Box::pin(end._call.grace_over()),
            interrupted: false,
            end: Some(end),
        }
    }

    /// Accounts for the stream (once): usage, and the recorded run. Returns the failure
    /// the client has not been told about, if any.
    fn settle(&mut self, client_left: bool) -> Option<UpstreamError> {
        let mut end = self.end.take()?;
        let summary: StreamSummary = self.inner.summary();
        let model = summary.model.clone().unwrap_or_else(|| end.model.clone());
        if let Some(a) = end.admission.take() {
            // Without usage (the client left, the stream broke) the call is charged its
            // reservation: upstream may have billed what it generated.
            a.settle(Spent::of_usage(
                Some(model.clone()),
                summary.usage.as_ref(),
                self.inner.generation_id.clone(),
            ));
        }
        if let Some(u) = summary.usage {
            end.engine.metrics().usage(
                &end.route,
                &model,
                u.prompt_tokens,
                u.completion_tokens,
                u.cost,
            );
        }
        let untold = summary
            .failure
            .as_ref()
            .filter(|_| !summary.failure_reported && !client_left)
            .cloned();
        if let Some(e) = &summary.failure {
            tracing::warn!(
                api = end.dialect.record_name(),
                route = %end.route,
                model = %model,
                code = e.code(),
                error = %e.message,
                "facade stream failed after output started"
            );
        }
        end.engine.trace_facade_call(
            FacadeCallTrace {
                api: end.dialect.api().as_str(),
                route: &end.route,
                model: &end.model,
                model_served: summary.model.as_deref(),
                usage: summary.usage,
                finish_reason: summary.finish_reason.as_deref(),
                error_code: summary.failure.as_ref().map(|e| e.code()),
                run_id: end.record.as_ref().map(|(id, _)| id.as_str()),
            },
            end.started,
        );
        if let Some((run_id, session)) = end.record {
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
                    api: end.dialect.record_name(),
                    route: Some(end.route),
                    model: Some(end.model),
                    model_served: summary.model,
                    usage: summary.usage,
                    text: summary.text,
                    error,
                    attempts: end.attempts,
                    generation_id: self.inner.generation_id.clone(),
                    duration_ms: u64::try_from(end.started.elapsed().as_millis())
                        .unwrap_or(u64::MAX),
                },
            );
        }
        untold
    }

    /// The bytes that end the stream: the protocol's error event for a failure the client
    /// was not told about, else the protocol's terminator when upstream did not send it.
    fn ending(&mut self, untold: Option<UpstreamError>) -> Option<Bytes> {
        if let Some(e) = untold {
            let problem = Problem::from(EngineError::from(e));
            return Some(self.dialect.stream_error(&problem));
        }
        if self.inner.saw_done() {
            return None;
        }
        self.dialect.stream_end().map(Bytes::from_static)
    }
}

impl Stream for FacadeStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if !self.inner.saw_done() && self.grace_over.poll_unpin(cx).is_ready() {
            self.finished = true;
            self.interrupted = true;
            self.settle(false);
            tracing::warn!("shutdown grace over; facade stream ended with an error event");
            let problem = Problem::from(EngineError::Interrupted);
            return Poll::Ready(Some(Ok(self.dialect.stream_error(&problem))));
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                // A transport failure is in the summary too (not reported: the client
                // saw no error event for it).
                self.finished = true;
                let untold = self.settle(false);
                Poll::Ready(self.ending(untold).map(Ok))
            }
        }
    }
}

impl Drop for FacadeStream {
    fn drop(&mut self) {
        self.settle(true);
    }
}
