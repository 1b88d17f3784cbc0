//! A fake notification receiver: a real HTTP server on 127.0.0.1 that records every
//! request (path, headers, body, arrival time) and answers as the test scripts it —
//! `200` with a channel-like body, any status, `429` with `Retry-After`, or never.
//! It can be stopped (connections refused) and started again on the same port, which
//! is how a receiver that is down for a while is played.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `200` with a body like the real channel's.
    Ok,
    /// This status with a short body.
    Status(u16),
    /// `429` with `Retry-After: secs`.
    TooMany { retry_after_secs: u64 },
    /// Holds the request and never answers.
    Hang,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
    /// The status it was answered with (`0`: not answered).
    pub status: u16,
}

impl Received {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Answers for the next requests, in order; then `fallback`.
    script: Vec<Answer>,
    fallback: Option<Answer>,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    shared: Arc<Mutex<Shared>>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn record(
    State(shared): State<Arc<Mutex<Shared>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut shared = shared.lock().unwrap();
        let answer = if shared.script.is_empty() {
            shared.fallback.clone().unwrap_or(Answer::Ok)
        } else {
            shared.script.remove(0)
        };
        let status = match &answer {
            Answer::Ok => 200,
            Answer::Status(status) => *status,
            Answer::TooMany { .. } => 429,
            Answer::Hang => 0,
        };
        shared.received.push(Received {
            path: uri.path().to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
            status,
        });
        answer
    };
    match answer {
        Answer::Ok => {
            let body = if uri.path().contains("/sendMessage") {
                r#"{"ok":true,"result":{"message_id":1}}"#
            } else {
                r#"{"ok":true}"#
            };
            (StatusCode::OK, body).into_response()
        }
        Answer::Status(status) => (
            StatusCode::from_u16(status).unwrap(),
            format!("scripted {status}"),
        )
            .into_response(),
        Answer::TooMany { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_secs.to_string())],
            format!(r#"{{"retry_after": {retry_after_secs}}}"#),
        )
            .into_response(),
        Answer::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    /// Starts a receiver on a free port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let address = listener.local_addr().unwrap();
        let mut receiver = Receiver {
            shared,
            address,
            stop: None,
            task: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .fallback(record)
            .with_state(self.shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    /// Stops listening: connections are refused until [`Receiver::restart`].
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Answers the next requests with `answers`, in order.
    pub fn script(&self, answers: Vec<Answer>) {
        self.shared.lock().unwrap().script = answers;
    }

    /// Answers every request (after the script) with `answer`.
    pub fn always(&self, answer: Answer) {
        self.shared.lock().unwrap().fallback = Some(answer);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Waits until `done` holds for the requests received, for at most `limit`.
    pub async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                started.elapsed() < limit,
                "the receiver did not get what was expected within {limit:?}; it got: {:#?}",
                received
                    .iter()
                    .map(|r| (&r.path, r.status, &r.body))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
