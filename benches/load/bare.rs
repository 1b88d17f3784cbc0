//! The yardstick: a bare axum handler (`POST` → `202` with a small JSON body) served
//! by the bench itself on 127.0.0.1:0, measured with the same requests and the same
//! closed model as the service, so the service's figure can be read as a share of
//! what this machine's HTTP stack does at all.
//!
//! It runs on its own two-thread runtime on its own OS threads, like a separate
//! process would, so it does not share the load generator's scheduler.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use tokio::sync::oneshot;

/// A running bare server; stops when dropped.
pub struct Bare {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn accepted() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "pending", "bench": true})),
    )
}

impl Bare {
    /// Starts the server on its own runtime.
    pub fn start() -> anyhow::Result<Bare> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bare-handler")
            .enable_all()
            .build()
            .context("the bare handler's runtime")?;
        // Bound here with std (this may run inside the bench's own runtime), handed to
        // tokio on the server's thread.
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the bare handler")?;
        listener
            .set_nonblocking(true)
            .context("a non-blocking listener")?;
        let addr = listener.local_addr().context("bare handler address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = Router::new().route("/v1/signals/{source}", post(accepted));
        let thread = std::thread::Builder::new()
            .name("bare-handler".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => return eprintln!("bare handler: {err}"),
                    };
                    let server = axum::serve(listener, router).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(err) = server.await {
                        eprintln!("bare handler: {err}");
                    }
                });
                runtime.shutdown_background();
            })
            .context("the bare handler's thread")?;
        Ok(Bare {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Not joined: a graceful shutdown waits for open connections, and a run that
        // failed midway may have left one open. The thread ends with the process.
        self.thread.take();
    }
}
