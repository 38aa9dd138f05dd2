//! Request bodies that stop arriving: every request body is read through
//! [`StallLimit`], which fails the read once no data has come for the daemon's body read
//! timeout (`serve --body-read-timeout-ms`). hyper bounds the wait for a request's head;
//! without this a client that sends a head and part of its body could hold a connection
//! (and a `--max-connections` slot) for ever. The failed read reaches the handler's
//! extractor, and the error leaves as a 408 `body_timeout` problem in the path's shape
//! ([`crate::problem`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The words of [`BodyStalled`]'s message that the error rendering recognises in an
/// extractor's rejection (which carries the message in its text).
pub(crate) const STALLED: &str = "the request body stopped arriving";

/// A request body whose next data did not come within the limit.
#[derive(Debug)]
pub struct BodyStalled {
    after: Duration,
}

impl fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{STALLED}: nothing came for {} ms; send the whole body without pausing (serve --body-read-timeout-ms sets the limit)",
            self.after.as_millis()
        )
    }
}

impl std::error::Error for BodyStalled {}

/// `B` read with a limit on the wait for each frame. The timer is made only when a read
/// has to wait (a body that is already buffered costs none).
pub struct StallLimit<B> {
    inner: B,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> StallLimit<B> {
    /// `inner`, failing once a frame takes longer than `limit` to come.
    pub fn new(inner: B, limit: Duration) -> Self {
        StallLimit {
            inner,
            limit,
            timer: None,
        }
    }
}

impl<B> HttpBody for StallLimit<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            // Data came: the next wait starts afresh.
            if let Some(timer) = this.timer.as_mut() {
                timer.as_mut().reset(Instant::now() + this.limit);
            }
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let limit = this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyStalled { after: limit }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};

    use super::{StallLimit, STALLED};

    /// A body whose data keeps coming is read whole, however long it takes in all; one
    /// that stops fails once the limit passes with nothing, saying so.
    #[tokio::test(start_paused = true)]
    async fn a_body_fails_only_when_its_data_stops() {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::io::Error>>(4);
        let body = StallLimit::new(
            StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
            Duration::from_secs(30),
        );
        let reader = tokio::spawn(body.collect());
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"x"))))
                .await
                .unwrap();
        }
        drop(tx);
        let whole = reader.await.unwrap().expect("read whole").to_bytes();
        assert_eq!(&whole[..], b"xxxxx");

        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::io::Error>>(4);
        let body = StallLimit::new(
            StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
            Duration::from_secs(30),
        );
        let reader = tokio::spawn(body.collect());
        tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"{"))))
            .await
            .unwrap();
        let failed = reader.await.unwrap().err().expect("stalled");
        assert!(failed.to_string().starts_with(STALLED), "{failed}");
        drop(tx);
    }
}
