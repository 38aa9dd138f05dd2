//! The accept loop and one task per connection (plain or TLS), including the RST path
//! used by [`Reply::reset`](crate::Reply::reset).

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio_rustls::TlsAcceptor;

use crate::service::{self, ConnectionContext};
use crate::state::Shared;

/// Accepts connections until `shutdown` fires (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.accepted();
                    tokio::spawn(serve_connection(stream, tls.clone(), shared.clone()));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, so a reset can set SO_LINGER 0 while hyper owns the
    // stream; closing the last handle then sends an RST.
    let Ok((stream, control)) = split_control(stream) else {
        return;
    };
    let reset = Arc::new(Notify::new());
    let ctx = Arc::new(ConnectionContext {
        shared,
        reset: reset.clone(),
    });
    match tls {
        None => drive(stream, ctx, &reset, &control).await,
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                drive(stream, ctx, &reset, &control).await;
            }
        }
    }
}

/// The stream back plus a duplicate handle on the same socket.
fn split_control(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let control = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, control))
}

/// Serves HTTP/1.1 on `io` until the client goes away or a reply asks for a reset.
async fn drive<I>(io: I, ctx: Arc<ConnectionContext>, reset: &Notify, control: &std::net::TcpStream)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| service::handle(request, ctx.clone()));
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = connection => {}
        _ = reset.notified() => {
            // The connection (and its stream) is dropped when this select ends, the
            // control handle when the caller returns: with linger 0 the close is an RST.
            let _ = socket2::SockRef::from(control).set_linger(Some(Duration::ZERO));
        }
    }
}
