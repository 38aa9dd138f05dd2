//! A body whose frames must come within a limit of each other ([`IdleLimit`]): the direct
//! transport's read timeout on a response body ([`crate::direct`]) and the daemon's limit
//! on a request body that stops arriving (`ferry_api`'s `body_deadline`). The timer is
//! made only when a read has to wait, so a body that is already buffered costs none.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error of a body read through [`IdleLimit`].
pub type BodyFailure = Box<dyn std::error::Error + Send + Sync>;

/// `B`, failing with `stalled(limit)` once a frame takes longer than `limit` to come
/// (no limit: never).
pub struct IdleLimit<B> {
    inner: B,
    limit: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    stalled: fn(Duration) -> BodyFailure,
}

impl<B> IdleLimit<B> {
    /// `inner` with `limit` on the wait for each frame; `stalled` makes the error.
    pub fn new(inner: B, limit: Option<Duration>, stalled: fn(Duration) -> BodyFailure) -> Self {
        IdleLimit {
            inner,
            limit,
            timer: None,
            stalled,
        }
    }
}

impl<B> HttpBody for IdleLimit<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BodyFailure>,
{
    type Data = Bytes;
    type Error = BodyFailure;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyFailure>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            // A frame came: the next wait starts afresh.
            if let (Some(timer), Some(limit)) = (this.timer.as_mut(), this.limit) {
                timer.as_mut().reset(Instant::now() + limit);
            }
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let Some(limit) = this.limit else {
            return Poll::Pending;
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err((this.stalled)(limit))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
