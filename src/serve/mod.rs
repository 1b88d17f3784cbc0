//! The accept loop: every connection is served by hyper with a timer, so a client
//! that is slow to send its headers, its body or its next request is cut off, and
//! connections are capped in total and per client address.
//!
//! - `server.header_timeout_secs`: the headers (and the TLS handshake) must arrive in
//!   time, and an idle keep-alive connection is closed after the same time (hyper
//!   starts the header clock as soon as a connection waits for its next request).
//! - `server.request_timeout_secs`: the body must have arrived by then ([`body`]).
//! - `server.max_connections`, `server.max_connections_per_ip` ([`limits`]), the total
//!   kept below the open-file limit ([`fdlimit`]).

pub mod body;
pub mod fdlimit;
pub mod limits;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

use crate::config::ServerConfig;
use crate::tls::{ClientIdentity, TlsListener};
use limits::ConnectionLimits;

/// How long shutdown waits for open connections before leaving them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(40);

/// How connections are served.
#[derive(Clone)]
pub struct ServeOptions {
    /// Headers, TLS handshake, and keep-alive idleness.
    pub header_timeout: Duration,
    /// The whole request, body included.
    pub request_timeout: Duration,
    /// Largest body read ahead of the handler (the handler refuses more).
    pub body_limit: usize,
    /// Connection caps.
    pub limits: ConnectionLimits,
    /// HTTPS, when configured.
    pub tls: Option<Arc<TlsListener>>,
}

impl ServeOptions {
    /// The options `[server]` asks for, with the total cap already fitted to the
    /// open-file limit.
    pub fn from_config(server: &ServerConfig, limits: ConnectionLimits) -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(server.header_timeout_secs),
            request_timeout: Duration::from_secs(server.request_timeout_secs),
            body_limit: server.body_limit_bytes,
            limits,
            tls: None,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits (up to a
/// grace period) for open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut accept_errors = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // EMFILE and the like: log now and then, pause, go on.
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!(error = %err, count = accept_errors, "accepting a connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match options.limits.try_acquire(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::debug!(peer = %peer.ip(), ?refusal, "connection refused: over the cap");
                drop(stream);
                continue;
            }
        };
        let watcher = graceful.watcher();
        let router = router.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let _slot = slot;
            serve_connection(stream, peer, router, options, watcher).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; leaving them");
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    options: ServeOptions,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    match &options.tls {
        None => {
            let identity = ClientIdentity::default();
            run_http(stream, peer, identity, router, options, watcher).await;
        }
        Some(tls) => {
            let tls = tls.clone();
            let handshake = tokio::time::timeout(options.header_timeout, tls.accept(stream));
            match handshake.await {
                Ok(Ok(Some((stream, identity)))) => {
                    run_http(stream, peer, identity, router, options, watcher).await
                }
                // An ACME challenge answered by the handshake itself.
                Ok(Ok(None)) => {}
                Ok(Err(err)) => {
                    tracing::debug!(peer = %peer.ip(), error = %err, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(peer = %peer.ip(), "TLS handshake timed out"),
            }
        }
    }
}

async fn run_http<S>(
    stream: S,
    peer: SocketAddr,
    identity: ClientIdentity,
    router: Router,
    options: ServeOptions,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        let deadline = tokio::time::Instant::now() + options.request_timeout;
        let limit = options.body_limit;
        async move {
            let (mut parts, incoming) = request.into_parts();
            let body = match body::read_by_deadline(incoming, limit, deadline).await {
                Ok(body) => body,
                Err(response) => return Ok(response),
            };
            parts.extensions.insert(ConnectInfo(peer));
            parts.extensions.insert(identity);
            let request = Request::from_parts(parts, body);
            router.oneshot(request).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!(peer = %peer.ip(), error = %err, "connection ended with an error");
    }
}
