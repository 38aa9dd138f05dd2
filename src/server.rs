//! The HTTP server of `ferry serve`: an accept loop over hyper's HTTP/1.1 connections with
//! a header-read timeout (which also bounds an idle keep-alive connection's wait for its
//! next request), a cap on concurrent connections, and a shutdown that ends in bounded
//! time whatever clients do: connections without a request in flight are closed at once,
//! the others get until the engine's drain is over plus [`CLOSE_MARGIN`], then they are
//! dropped.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use ferry_api::stall_limit;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long connections may still finish after the drain before they are dropped.
pub const CLOSE_MARGIN: Duration = Duration::from_secs(1);

/// Connection limits (`serve --header-read-timeout-ms`, `--body-read-timeout-ms`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to receive a complete request head, counted from when the connection starts
    /// waiting for one (on accept, and after each response on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Longest wait for the next part of a request body before the request fails (408).
    pub body_read_timeout: Duration,
    /// Most connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

/// Serves `app` on `listener`. Once `shutdown` is cancelled, connections without a request
/// in flight are closed, the others serve no further request, and `drained` (the engine's
/// drain) is awaited while new connections are still answered; then the listener closes
/// and what is left gets at most [`CLOSE_MARGIN`] before it is dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
    drained: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Connections accepted during the drain serve one request each.
    let mut one_request = builder.clone();
    one_request.keep_alive(false);
    // New connections are still served while the engine drains (they learn about it from
    // `/readyz` and `503 draining`), one request each.
    let drained = async {
        shutdown.cancelled().await;
        drained.await;
    };
    tokio::pin!(drained);
    loop {
        let permit = tokio::select! {
            _ = &mut drained => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, _) = tokio::select! {
            _ = &mut drained => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Streamed events are small writes: without TCP_NODELAY, Nagle's algorithm holds
        // them back until the client's delayed ACK (~40 ms), ruining time-to-first-token.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let busy = Arc::new(AtomicUsize::new(0));
        let service = hyper::service::service_fn({
            let app = app.clone();
            let busy = busy.clone();
            move |req: Request<Incoming>| {
                let guard = BusyGuard::new(busy.clone());
                let mut app = app.clone();
                async move {
                    let req = req.map(|b| Body::new(stall_limit(b, limits.body_read_timeout)));
                    let resp: Response = tower::Service::call(&mut app, req).await?;
                    Ok::<_, std::convert::Infallible>(resp.map(|body| {
                        Body::new(CountedBody {
                            body,
                            _guard: guard,
                        })
                    }))
                }
            }
        });
        let draining = shutdown.is_cancelled();
        let conn = if draining { &one_request } else { &builder }
            .serve_connection(TokioIo::new(tcp), service);
        let stop = shutdown.clone();
        conns.spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            if !draining {
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        return;
                    }
                    _ = stop.cancelled() => {}
                }
                if busy.load(Ordering::SeqCst) == 0 {
                    // No request in flight (idle, or a request head still arriving):
                    // close now; returning drops the connection.
                    return;
                }
                conn.as_mut().graceful_shutdown();
            }
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
        // Reap finished connection tasks so the set does not grow.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_MARGIN, async {
        while conns.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            connections = conns.len(),
            "connections still open after the shutdown grace; closing them"
        );
        conns.shutdown().await;
    }
}

/// Counts a request as in flight until its response body is dropped.
struct BusyGuard(Arc<AtomicUsize>);

impl BusyGuard {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        BusyGuard(count)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight.
struct CountedBody {
    body: Body,
    _guard: BusyGuard,
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
