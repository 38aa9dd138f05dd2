//! [`ScriptBody`]: a response body that plays a list of steps (bytes, pauses, gates, an
//! abort) and hands each chunk to hyper as soon as it is produced.
//!
//! The body drives its own waits inside `poll_frame`, so a streamed answer needs no extra
//! task or channel; a frame is written to the socket as soon as the body returns
//! `Pending` (hyper flushes whenever the body is not ready).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::gate::Gate;

/// One step of a scripted body.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these bytes as one chunk.
    Data(Bytes),
    /// Wait this long.
    Pause(Duration),
    /// Wait until the gate opens.
    Gate(Gate),
    /// Fail the body: hyper then closes the connection without finishing the message (no
    /// chunked terminator). Everything sent before is flushed first.
    Abort,
}

/// The error a [`Step::Abort`] produces; hyper answers it by closing the connection.
#[derive(Debug, thiserror::Error)]
#[error("the scripted reply cut the body short")]
pub(crate) struct BodyAborted;

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A response body made of [`Step`]s.
pub(crate) struct ScriptBody {
    steps: VecDeque<Step>,
    exact_len: Option<u64>,
    wait: Option<Wait>,
    abort_flushed: bool,
}

impl ScriptBody {
    /// A body of known length sent in one piece (gets a `Content-Length`).
    pub(crate) fn full(bytes: impl Into<Bytes>) -> ScriptBody {
        let bytes = bytes.into();
        let exact_len = Some(bytes.len() as u64);
        let mut steps = VecDeque::with_capacity(1);
        if !bytes.is_empty() {
            steps.push_back(Step::Data(bytes));
        }
        ScriptBody {
            steps,
            exact_len,
            wait: None,
            abort_flushed: false,
        }
    }

    /// A streamed body (chunked transfer encoding) playing `steps` in order.
    pub(crate) fn streamed(steps: VecDeque<Step>) -> ScriptBody {
        ScriptBody {
            steps,
            exact_len: None,
            wait: None,
            abort_flushed: false,
        }
    }
}

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.wait.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
            }
            match this.steps.pop_front() {
                None => return Poll::Ready(None),
                Some(Step::Data(bytes)) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Some(Step::Pause(duration)) => {
                    this.wait = Some(Box::pin(tokio::time::sleep(duration)));
                }
                Some(Step::Gate(gate)) => {
                    this.wait = Some(Box::pin(async move { gate.wait().await }));
                }
                Some(Step::Abort) => {
                    if this.abort_flushed {
                        return Poll::Ready(Some(Err(BodyAborted)));
                    }
                    // hyper flushes its write buffer only when the body is not ready, and
                    // drops unflushed bytes on a body error: be "not ready" once first.
                    this.abort_flushed = true;
                    this.steps.push_front(Step::Abort);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty() && self.wait.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.exact_len.map(SizeHint::with_exact).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn plays_steps_in_order_and_waits_for_the_gate() {
        let gate = Gate::new();
        let steps = VecDeque::from(vec![
            Step::Data(Bytes::from_static(b"a")),
            Step::Pause(Duration::from_millis(1)),
            Step::Gate(gate.clone()),
            Step::Data(Bytes::from_static(b"b")),
        ]);
        let mut body = ScriptBody::streamed(steps);
        let first = body.frame().await.expect("a frame").expect("data");
        assert_eq!(first.into_data().ok(), Some(Bytes::from_static(b"a")));
        let blocked = tokio::time::timeout(Duration::from_millis(30), body.frame()).await;
        assert!(blocked.is_err(), "must wait for the gate");
        gate.open();
        let second = body.frame().await.expect("a frame").expect("data");
        assert_eq!(second.into_data().ok(), Some(Bytes::from_static(b"b")));
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn abort_yields_an_error_after_one_pending() {
        let steps = VecDeque::from(vec![Step::Data(Bytes::from_static(b"x")), Step::Abort]);
        let mut body = ScriptBody::streamed(steps);
        assert!(body.frame().await.expect("frame").is_ok());
        assert!(body.frame().await.expect("frame").is_err());
    }

    #[test]
    fn full_body_has_an_exact_size() {
        let body = ScriptBody::full(Bytes::from_static(b"hello"));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert!(ScriptBody::full(Bytes::new()).is_end_stream());
    }
}
