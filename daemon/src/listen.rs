//! Serving an axum router on a listener, over plain TCP or TLS, with the limits the internet
//! needs: a request head must arrive within [`HEADER_READ_TIMEOUT`] and a TLS handshake within
//! [`HANDSHAKE_TIMEOUT`] (a slow client holding sockets open is dropped), and on shutdown the
//! listener stops accepting and every connection is let finish.
//!
//! hyper and hyper-util do the HTTP (as `axum::serve` does); this adds the TLS acceptor and the
//! timeouts `axum::serve` does not expose. Handlers see the client's address as
//! `ConnectInfo<SocketAddr>`.

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client may take to send a request's head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadlines of a connection's start.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For a request's head, from the connection's start or the previous request.
    pub header_read: Duration,
    /// For the TLS handshake.
    pub handshake: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: HEADER_READ_TIMEOUT,
            handshake: HANDSHAKE_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` (TLS when `tls` is given) until `shutdown` resolves, then waits
/// for the open connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, tls, Timeouts::default(), shutdown).await
}

/// [`serve`] with other deadlines.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(address));
                request
            },
        );
        let hyper_service = hyper_util::service::TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header_read);
            match acceptor {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), hyper_service)
                        .into_owned();
                    let _ = watcher.watch(connection).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(timeouts.handshake, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                        .into_owned();
                    let _ = watcher.watch(connection).await;
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Adds the headers every answer of our services carries: no type sniffing (a file is only ever
/// what its type says) and no referrer (no console address or conversation id in another site's
/// logs).
pub fn add_baseline_headers(headers: &mut axum::http::HeaderMap) {
    use axum::http::{header, HeaderValue};
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The address type handlers extract, for callers that name it.
pub type ClientAddress = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(timeouts: Timeouts) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/",
            axum::routing::get(
                |ConnectInfo(from): ClientAddress| async move { from.ip().to_string() },
            ),
        );
        tokio::spawn(serve_with(
            listener,
            router,
            None,
            timeouts,
            std::future::pending(),
        ));
        address
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_request_head_is_dropped() {
        let timeouts = Timeouts {
            header_read: Duration::from_millis(300),
            handshake: Duration::from_millis(300),
        };
        let address = start(timeouts).await;
        // A complete request is answered, with the client's address reaching the handler.
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        socket
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("127.0.0.1"),
            "{answer}"
        );
        // Slowloris: half a head, then silence. The deployment hangs up.
        let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the connection was closed");
    }
}
