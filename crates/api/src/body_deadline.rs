//! Request bodies that stop arriving: every request body is read through
//! [`stall_limit`] (an [`IdleLimit`]), which fails the read once no data has come for the daemon's body read
//! timeout (`serve --body-read-timeout-ms`). hyper bounds the wait for a request's head;
//! without this a client that sends a head and part of its body could hold a connection
//! (and a `--max-connections` slot) for ever. The failed read reaches the handler's
//! extractor, and the error leaves as a 408 `body_timeout` problem in the path's shape
//! ([`crate::problem`]).

use std::fmt;
use std::time::Duration;

use ferry_openrouter::IdleLimit;

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

/// A request body read with a limit on the wait for each frame.
pub type StallLimit<B> = IdleLimit<B>;

/// `body`, failing with [`BodyStalled`] once nothing has come for `limit`.
pub fn stall_limit<B>(body: B, limit: Duration) -> StallLimit<B> {
    IdleLimit::new(body, Some(limit), |after| Box::new(BodyStalled { after }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http_body::Frame;
    use http_body_util::{BodyExt, StreamBody};
    use tokio::sync::mpsc::Sender;

    use super::{stall_limit, STALLED};

    type Sent = Result<Frame<Bytes>, std::io::Error>;

    /// A body fed through a channel, read whole in a task under a 30 s limit.
    fn fed() -> (
        Sender<Sent>,
        tokio::task::JoinHandle<
            Result<http_body_util::Collected<Bytes>, ferry_openrouter::BodyFailure>,
        >,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Sent>(4);
        let body = stall_limit(
            StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
            Duration::from_secs(30),
        );
        (tx, tokio::spawn(body.collect()))
    }

    /// A body whose data keeps coming is read whole, however long it takes in all; one
    /// that stops fails once the limit passes with nothing, saying so.
    #[tokio::test(start_paused = true)]
    async fn a_body_fails_only_when_its_data_stops() {
        let (tx, reader) = fed();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"x"))))
                .await
                .unwrap();
        }
        drop(tx);
        let whole = reader.await.unwrap().expect("read whole").to_bytes();
        assert_eq!(&whole[..], b"xxxxx");

        let (tx, reader) = fed();
        tx.send(Ok(Frame::data(Bytes::from_static(b"{"))))
            .await
            .unwrap();
        let Err(failed) = reader.await.unwrap() else {
            panic!("a stalled body was read whole");
        };
        assert!(failed.to_string().starts_with(STALLED), "{failed}");
        drop(tx);
    }
}
