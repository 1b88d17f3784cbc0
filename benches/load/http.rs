//! A lean HTTP/1.1 client for the load generator: one hyper connection per sender,
//! kept alive, with requests prepared up front so that each send only copies a few
//! shared buffers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request ready to send any number of times.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Prepared {
    /// A plain `GET path`.
    pub fn get(path: &str) -> Prepared {
        Prepared {
            method: Method::GET,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// One keep-alive connection to one address.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    /// Connects (loopback only: every address the bench uses is one it bound itself
    /// or one a service it started printed).
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        anyhow::ensure!(addr.ip().is_loopback(), "the bench only talks to loopback");
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // Ends when the peer closes or the sender is dropped; nothing to report.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string()).context("Host header")?;
        Ok(Conn { sender, host })
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(&mut self, prepared: &Prepared) -> anyhow::Result<Answer> {
        let mut request = Request::builder()
            .method(prepared.method.clone())
            .uri(prepared.path.as_str())
            .header(HOST, self.host.clone());
        for (name, value) in &prepared.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(prepared.body.clone()))
            .context("building a request")?;
        self.sender.ready().await.context("the connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("sending a request")?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading an answer")?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

/// Idle connections to one address, for the open model's many concurrent requests.
#[derive(Clone)]
pub struct Pool {
    addr: SocketAddr,
    idle: Arc<Mutex<Vec<Conn>>>,
}

impl Pool {
    /// A pool with `warm` connections already open.
    pub async fn new(addr: SocketAddr, warm: usize) -> anyhow::Result<Pool> {
        let mut idle = Vec::with_capacity(warm);
        for _ in 0..warm {
            idle.push(Conn::open(addr).await?);
        }
        Ok(Pool {
            addr,
            idle: Arc::new(Mutex::new(idle)),
        })
    }

    /// Sends on an idle connection, or on a new one if none is idle.
    pub async fn send(&self, prepared: &Prepared) -> anyhow::Result<Answer> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => Conn::open(self.addr).await?,
        };
        let answer = conn.send(prepared).await?;
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(answer)
    }
}
