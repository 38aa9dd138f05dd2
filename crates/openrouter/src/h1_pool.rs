//! Keep-alive HTTP/1.1 connections to one plain-HTTP upstream, each driven by the task
//! that is using it: the direct transport's ([`crate::direct`]) way to a `http://`
//! endpoint.
//!
//! hyper-util's pooled client runs every connection as a task of its own: a request is
//! handed to that task over a channel, its response comes back over another, and each
//! body chunk crosses tasks again; the pool hashes its key on every checkout and return.
//! Here a connection (hyper's `client::conn::http1` pair) belongs to whoever holds it: the
//! request's task drives it until the response head, then the response body drives it
//! as it is read (so a stream's chunks are read by the task that forwards them). Once the
//! body is read to its end the connection goes back to the pool; a body dropped before
//! its end takes its connection with it (HTTP/1.1 cannot reuse it).
//!
//! Invariants:
//! - An idle connection is only reused after it was polled and found open and ready for
//!   a request; one closed by the upstream meanwhile is dropped then.
//! - A request that a reused connection refused before writing any of it (the upstream
//!   closed it as we picked it: hyper hands the request back) is sent once more on a new
//!   connection; any other failure is the caller's to judge.
//! - Idle connections are kept at most [`IDLE_FOR`], at most [`MAX_IDLE`] of them; a
//!   reaper task, which ends with the pool, drops the expired and the closed.
//!
//! HTTPS endpoints stay on hyper-util's client (ALPN may choose HTTP/2, whose
//! connections are shared by many requests).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use reqwest::header::{HeaderValue, HOST};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tower_service::Service;

/// How long an idle connection is kept (as hyper-util's pool was set to).
pub(crate) const IDLE_FOR: Duration = Duration::from_secs(90);
/// The most idle connections kept; more are closed when their bodies end.
pub(crate) const MAX_IDLE: usize = 256;
/// How often the reaper looks at the idle connections.
const REAP_EVERY: Duration = Duration::from_secs(15);

/// A failure before a response head arrived.
pub(crate) type SendError = Box<dyn std::error::Error + Send + Sync>;

/// One connection: hyper's request handle and the connection it drives.
struct Conn {
    send: http1::SendRequest<Full<Bytes>>,
    conn: Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

impl Conn {
    /// Drives the connection once; `true` when it has ended (closed or failed).
    fn poll_ended(&mut self, cx: &mut Context<'_>) -> bool {
        self.conn.as_mut().poll(cx).is_ready()
    }

    /// Whether this idle connection can take a request now: polled (which reads a close
    /// the upstream sent meanwhile), still open and ready.
    fn poll_usable(&mut self, cx: &mut Context<'_>) -> bool {
        !self.poll_ended(cx) && matches!(self.send.poll_ready(cx), Poll::Ready(Ok(())))
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// The idle connections to one upstream address.
pub(crate) struct H1Pool {
    connector: HttpConnector,
    /// `http://host:port`, what the connector connects to.
    address: http::Uri,
    /// The `Host` header of every request.
    host: HeaderValue,
    /// Oldest first.
    idle: Mutex<Vec<Idle>>,
    reaper: std::sync::Once,
}

impl H1Pool {
    /// A pool for the plain-HTTP upstream of `endpoint` (its scheme must be `http`).
    pub(crate) fn new(connector: HttpConnector, endpoint: &http::Uri) -> Option<Arc<H1Pool>> {
        if endpoint.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        let authority = endpoint.authority()?;
        // Credentials in the URL are not a `Host`: such a route stays on hyper-util's client.
        if authority.as_str().contains('@') {
            return None;
        }
        // As hyper-util wrote it: the port only when it is not the scheme's default.
        let host = match authority.port_u16() {
            Some(80) => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        Some(Arc::new(H1Pool {
            connector,
            address: http::Uri::builder()
                .scheme("http")
                .authority(authority.clone())
                .path_and_query("/")
                .build()
                .ok()?,
            host: HeaderValue::try_from(host).ok()?,
            idle: Mutex::new(Vec::new()),
            reaper: std::sync::Once::new(),
        }))
    }

    /// Sends `request` (its URI in origin form) on an idle connection or a new one; the
    /// response's body drives the connection and returns it to the pool at its end.
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<PooledBody>, SendError> {
        request.headers_mut().insert(HOST, self.host.clone());
        loop {
            let (mut conn, reused) = match self.checkout().await {
                Some(conn) => (conn, true),
                None => (self.connect().await?, false),
            };
            let mut sent = std::pin::pin!(conn.send.try_send_request(request));
            let mut ended = false;
            let answered = poll_fn(|cx| {
                if !ended {
                    ended = conn.poll_ended(cx);
                }
                sent.as_mut().poll(cx)
            })
            .await;
            match answered {
                Ok(response) => {
                    let (parts, incoming) = response.into_parts();
                    let body = PooledBody {
                        incoming,
                        conn: (!ended).then_some(conn),
                        pool: Arc::downgrade(self),
                        read_to_end: false,
                    };
                    return Ok(http::Response::from_parts(parts, body));
                }
                Err(mut refused) => match refused.take_message() {
                    // Closed as it was picked, nothing written: once more, anew.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(Box::new(refused.into_error())),
                },
            }
        }
    }

    /// The most recently used idle connection that is still open and ready, if any.
    async fn checkout(&self) -> Option<Conn> {
        loop {
            let idle = self.lock().pop()?;
            if idle.since.elapsed() >= IDLE_FOR {
                // The newest has expired, so have all the others.
                self.lock().clear();
                return None;
            }
            let mut conn = idle.conn;
            // One poll: an idle connection is ready at once, or of no use.
            let usable = poll_fn(|cx| Poll::Ready(conn.poll_usable(cx))).await;
            if usable {
                return Some(conn);
            }
        }
    }

    async fn connect(self: &Arc<Self>) -> Result<Conn, SendError> {
        self.start_reaper();
        let io = self.connector.clone().call(self.address.clone()).await?;
        let (send, conn) = http1::handshake(io).await?;
        Ok(Conn {
            send,
            conn: Box::pin(conn),
        })
    }

    /// Keeps `conn` for the next request (when there is room).
    fn put(&self, conn: Conn) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the reaper once, from the first connection made (inside the runtime).
    fn start_reaper(self: &Arc<Self>) {
        let pool = Arc::downgrade(self);
        self.reaper.call_once(|| {
            tokio::spawn(reap(pool));
        });
    }

    /// Drops the idle connections that expired or were closed; the rest stay in order.
    fn reap(&self) {
        let now = Instant::now();
        let mut cx = Context::from_waker(Waker::noop());
        self.lock().retain_mut(|idle| {
            now.duration_since(idle.since) < IDLE_FOR && !idle.conn.poll_ended(&mut cx)
        });
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().len()
    }
}

/// Every [`REAP_EVERY`], until the pool is gone.
async fn reap(pool: Weak<H1Pool>) {
    let mut every = tokio::time::interval(REAP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.reap(),
            None => return,
        }
    }
}

/// A response body read from a pooled connection, which it drives while it is read and
/// returns to the pool once it is read to its end.
pub(crate) struct PooledBody {
    incoming: Incoming,
    /// `None` once the connection ended (it is then never reused).
    conn: Option<Conn>,
    pool: Weak<H1Pool>,
    /// The body's end was read (a chunked body never says `is_end_stream`).
    read_to_end: bool,
}

impl PooledBody {
    /// Returns the connection to the pool if the body was read to its end.
    fn release(&mut self) {
        if !(self.read_to_end || self.incoming.is_end_stream()) {
            return;
        }
        if let (Some(conn), Some(pool)) = (self.conn.take(), self.pool.upgrade()) {
            pool.put(conn);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(conn) = this.conn.as_mut() {
            if conn.poll_ended(cx) {
                this.conn = None;
            }
        }
        let frame = ready!(Pin::new(&mut this.incoming).poll_frame(cx));
        if frame.is_none() {
            this.read_to_end = true;
            this.release();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// The most frames a dropped body reads off to find its end already there.
const DRAIN_FRAMES: usize = 8;

impl PooledBody {
    /// Whether the body's end is already here: the frames that have arrived (at most
    /// [`DRAIN_FRAMES`]) are read off without waiting, driving the connection first so
    /// that bytes in its buffer are decoded.
    fn end_is_here(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if let Some(conn) = self.conn.as_mut() {
            if conn.poll_ended(&mut cx) {
                self.conn = None;
                return false;
            }
        }
        for _ in 0..DRAIN_FRAMES {
            match Pin::new(&mut self.incoming).poll_frame(&mut cx) {
                Poll::Ready(None) => return true,
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(_))) | Poll::Pending => return false,
            }
        }
        false
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A reader that stops at `is_end_stream` (a body of known length) never sees
        // the final `None`; one that stops at its protocol's end (an SSE `[DONE]`) leaves
        // the body's last bytes (the chunked terminator) unread, though they have
        // usually arrived with it: then the connection is as good as read to its end.
        if !self.read_to_end && self.conn.is_some() && !self.incoming.is_end_stream() {
            self.read_to_end = self.end_is_here();
        }
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use ferry_fake_openrouter::{FakeOpenRouter, Reply};
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::connect::HttpConnector;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::H1Pool;

    fn pool_for(base: &str) -> Arc<H1Pool> {
        let endpoint: http::Uri = format!("{base}/chat/completions").parse().expect("uri");
        H1Pool::new(HttpConnector::new(), &endpoint).expect("a plain-HTTP pool")
    }

    fn chat(stream: bool) -> http::Request<Full<Bytes>> {
        let body = format!(
            r#"{{"model":"openai/gpt-5.4-mini","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        http::Request::post("/api/v1/chat/completions")
            .header("authorization", "Bearer sk-or-v1-pool-test")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    }

    /// Sends `request` and reads its answer whole: (status, body).
    async fn call(pool: &Arc<H1Pool>, request: http::Request<Full<Bytes>>) -> (u16, Bytes) {
        let response = pool.send(request).await.expect("answered");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("body");
        (status, body.to_bytes())
    }

    /// Calls read to their ends, streamed or not, one after another, share one
    /// connection; it waits in the pool between them.
    #[tokio::test]
    async fn calls_read_to_their_end_share_one_connection() {
        let fake = FakeOpenRouter::start();
        let pool = pool_for(&fake.base_url());
        for i in 0..6 {
            let (status, body) = call(&pool, chat(i % 2 == 1)).await;
            assert_eq!(status, 200);
            assert!(String::from_utf8_lossy(&body).contains("echo:"), "call {i}");
            assert_eq!(pool.idle_count(), 1, "call {i}: the connection is back");
        }
        assert_eq!(fake.connections(), 1);
        assert_eq!(fake.chat_requests().len(), 6);
    }

    /// A reader that stops at a stream's `[DONE]` leaves the chunked terminator unread;
    /// the terminator came with it, so the connection goes back to the pool all the same.
    #[tokio::test]
    async fn a_stream_dropped_at_its_done_with_its_end_here_is_reused() {
        let fake = FakeOpenRouter::start();
        let pool = pool_for(&fake.base_url());
        for _ in 0..3 {
            let response = pool.send(chat(true)).await.expect("answered");
            let mut body = response.into_body();
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("[DONE]") {
                let frame = body.frame().await.expect("a frame").expect("data");
                seen.extend_from_slice(&frame.into_data().expect("data"));
            }
            // Let the terminator, sent right behind `[DONE]`, arrive.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(body);
            assert_eq!(pool.idle_count(), 1);
        }
        assert_eq!(fake.connections(), 1);
    }

    /// A body dropped before its end takes its connection with it; the next call opens
    /// another and is answered in full.
    #[tokio::test]
    async fn a_body_dropped_before_its_end_is_not_reused() {
        let fake = FakeOpenRouter::start();
        fake.push(Reply::text("one two three four").chunk_delay(Duration::from_millis(200)));
        let pool = pool_for(&fake.base_url());
        let response = pool.send(chat(true)).await.expect("answered");
        assert_eq!(response.status(), 200);
        drop(response);
        assert_eq!(pool.idle_count(), 0);
        let (_, body) = call(&pool, chat(false)).await;
        assert!(String::from_utf8_lossy(&body).contains("echo: hi"));
        assert_eq!(fake.connections(), 2);
        assert_eq!(pool.idle_count(), 1);
    }

    /// A stream the upstream cuts off fails its reader, and its connection is not
    /// reused: the next call opens another.
    #[tokio::test]
    async fn a_connection_cut_mid_body_is_not_reused() {
        let fake = FakeOpenRouter::start();
        fake.push(Reply::truncated(1));
        let pool = pool_for(&fake.base_url());
        let response = pool.send(chat(true)).await.expect("answered");
        assert!(response.into_body().collect().await.is_err(), "cut off");
        assert_eq!(pool.idle_count(), 0);
        let (status, _) = call(&pool, chat(false)).await;
        assert_eq!(status, 200);
        assert_eq!(fake.connections(), 2);
    }

    /// An upstream that resets the connection instead of answering fails the call, with
    /// hyper's account of it, and leaves nothing in the pool.
    #[tokio::test]
    async fn a_reset_fails_the_call_and_leaves_nothing_idle() {
        let fake = FakeOpenRouter::start();
        fake.push(Reply::reset());
        let pool = pool_for(&fake.base_url());
        let Err(failed) = pool.send(chat(false)).await else {
            panic!("a reset answered");
        };
        assert!(!failed.to_string().is_empty());
        assert_eq!(pool.idle_count(), 0);
        let response = pool.send(chat(false)).await.expect("answered");
        assert_eq!(response.status(), 200);
    }

    /// An upstream that closes each connection after one answer (without saying so):
    /// the idle connection, closed meanwhile, is found closed and dropped, and every call
    /// is answered on a new one.
    #[tokio::test]
    async fn an_idle_connection_the_upstream_closed_is_dropped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The head and the body (the body is small: one read after the head).
                while !request.ends_with(b"}") {
                    let n = socket.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                    .await
                    .expect("write");
                // Closed at once, as a server with a short keep-alive does.
            }
        });
        let pool = pool_for(&format!("http://127.0.0.1:{port}/api/v1"));
        for _ in 0..3 {
            let (_, body) = call(&pool, chat(false)).await;
            assert_eq!(&body[..], b"{}");
            // Let the close arrive before the next call picks the connection.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    /// Only a `http://` endpoint gets a pool, and its `Host` is the endpoint's.
    #[test]
    fn only_plain_http_gets_a_pool() {
        let https: http::Uri = "https://openrouter.ai/api/v1/chat/completions"
            .parse()
            .unwrap();
        assert!(H1Pool::new(HttpConnector::new(), &https).is_none());
        let plain: http::Uri = "http://127.0.0.1:8080/api/v1".parse().unwrap();
        let pool = H1Pool::new(HttpConnector::new(), &plain).expect("pool");
        assert_eq!(pool.host, "127.0.0.1:8080");
        let with_credentials: http::Uri = "http://user:pw@127.0.0.1:8080/v1".parse().unwrap();
        assert!(H1Pool::new(HttpConnector::new(), &with_credentials).is_none());
        let default_port: http::Uri = "http://upstream.internal:80/v1".parse().unwrap();
        let pool = H1Pool::new(HttpConnector::new(), &default_port).expect("pool");
        assert_eq!(pool.host, "upstream.internal");
    }
}
