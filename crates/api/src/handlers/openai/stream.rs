//! The response body of a streamed facade call: upstream SSE chunks forwarded one by one
//! as they arrive (no coalescing, no buffering), always ending with `data: [DONE]`. A
//! stream that breaks after output started ends with an OpenAI-style error event first.
//! When the stream ends — or the client goes away — its usage is counted and, when
//! recording, the run is finished.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ferry_engine::{Admission, Engine, EngineError, FacadeRunEnd, Spent};
use ferry_metrics::InFlight;
use ferry_openrouter::{RawStream, StreamSummary};
use futures::{Stream, StreamExt};

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
    /// The call's budget admission, settled with the stream's usage when it ends.
    pub admission: Option<Admission>,
    pub _in_flight: InFlight,
}

/// The facade's SSE body.
pub struct FacadeStream {
    inner: Box<RawStream>,
    tail: Option<Bytes>,
    finished: bool,
    end: Option<StreamEnd>,
}

impl FacadeStream {
    pub fn new(inner: Box<RawStream>, end: StreamEnd) -> Self {
        FacadeStream {
            inner,
            tail: None,
            finished: false,
            end: Some(end),
        }
    }

    /// Accounts for the stream (once): usage, and the recorded run.
    fn settle(&mut self, client_left: bool) {
        let Some(mut end) = self.end.take() else {
            return;
        };
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
        let Some((run_id, session)) = end.record else {
            return;
        };
        let error = match (&summary.failure, client_left) {
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
fn error_tail(e: ferry_openrouter::UpstreamError) -> Bytes {
    let problem = Problem::from(EngineError::from(e));
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
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                self.settle(false);
                Poll::Ready(Some(Ok(error_tail(e))))
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
