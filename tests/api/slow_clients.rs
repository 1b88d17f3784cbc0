//! Slow and abusive clients against the in-process app: header, body and keep-alive
//! timeouts, and the per-address connection cap.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; returns what it sent, or `None` if
/// it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test]
async fn headers_sent_too_slowly_close_the_connection_after_the_header_timeout() {
    let app = spawn_app_with(|c| c.server.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(answer.is_some(), "still open after 15 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|c| c.server.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(15))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_trickled_past_the_request_timeout_is_answered_408() {
    let app = spawn_app_with(|c| {
        c.server.header_timeout_secs = 5;
        c.server.request_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /v1/signals/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(15))
        .await
        .expect("closed after the 408");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test]
async fn a_signal_that_arrives_in_time_is_still_accepted() {
    let app = spawn_app_with(|c| c.server.request_timeout_secs = 2).await;
    let response = app.post_hook("msg_in_time", &market_buy("0.01")).await;
    assert_eq!(response.status().as_u16(), 202);
}

#[tokio::test]
async fn one_address_over_its_connection_cap_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(|c| {
        c.server.max_connections_per_ip = 3;
        c.server.header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    // Give the accept loop time to count the three.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fourth = TcpStream::connect(socket_address(&app)).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut fourth, Duration::from_secs(10))
        .await
        .expect("the fourth connection is closed");
    assert!(answer.is_empty(), "the fourth was served: {answer}");

    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let status = other
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    drop(held);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_413_on_every_route() {
    let app = spawn_app_with(|c| c.server.body_limit_bytes = 1024).await;
    let reason = "x".repeat(4096);
    let response = app
        .client
        .post(format!("{}/v1/admin/halt", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(format!(r#"{{"reason":"{reason}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let status: serde_json::Value = app
        .client
        .get(format!("{}/v1/admin/status", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["halted"], false,
        "the oversized halt must not apply: {status}"
    );
    let signal = app
        .post_hook("msg_big", &format!("{:<2048}", market_buy("0.01")))
        .await;
    assert_eq!(signal.status(), 413);
}
