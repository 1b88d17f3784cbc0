//! The real binary under `ulimit -n 1024` (systemd's default), held by 1,000
//! slowloris connections from one address: `/healthz` and a valid signal from another
//! address are still answered promptly, and the slow connections are closed after
//! the header timeout. Its log, written to a file, carries no colour codes and
//! starts with the line saying where and how it runs.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const SLOW_CONNECTIONS: usize = 1_000;
/// The default; the checks beside the slow connections must finish within it.
const HEADER_TIMEOUT_SECS: u64 = 5;

/// The binary as a child process, killed when dropped.
pub(crate) struct Served {
    child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary on a free loopback port, its open-file limit set to `nofile`, its
/// stderr in a file: an `hmac` source `hook`, XBTUSD the only pair allowed.
pub(crate) async fn serve_under_ulimit(nofile: u32) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("tradehook.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nheader_timeout_secs = {HEADER_TIMEOUT_SECS}\n\
             rate_limit_per_minute = 0\n\n[database]\nurl = \"sqlite://{}\"\n\n\
             [exchange]\npaper_market_data = false\n\n\
             [[sources]]\nname = \"hook\"\nauth = \"hmac\"\nsecret = \"{HMAC_SECRET}\"\n\n\
             [risk]\nallowed_pairs = [\"XBTUSD\"]\n",
            dir.path().join("t.db").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {nofile} && exec \"$0\" --config \"$1\" serve"
        ))
        .arg(env!("CARGO_BIN_EXE_tradehook"))
        .arg(&config)
        .env_remove("TRADEHOOK_CONFIG")
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the binary starts");
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    };
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(format!("{}/healthz", served.base)).send().await {
            if response.status().is_success() {
                return served;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the binary did not come up: {}",
            std::fs::read_to_string(&served.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A connection that sends a partial request header and then one byte now and then.
async fn slowloris(address: String) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ")
        .await
        .ok()?;
    Some(stream)
}

/// Waits for the server to close `stream`, trickling a byte every 500 ms meanwhile;
/// true if it closed within `limit`.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> bool {
    let wait = async {
        let mut buffer = [0u8; 256];
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if stream.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slowloris_connections_from_one_address_do_not_starve_the_others() {
    // The test itself holds the slow connections' client ends.
    let _ = rlimit::increase_nofile_limit(4 * SLOW_CONNECTIONS as u64);
    let served = serve_under_ulimit(1024).await;
    let address = served.base.trim_start_matches("http://").to_owned();

    let opened = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..SLOW_CONNECTIONS {
        if let Some(stream) = slowloris(address.clone()).await {
            slow.push(stream);
        }
    }
    assert!(
        slow.len() >= SLOW_CONNECTIONS * 9 / 10,
        "only {} connected",
        slow.len()
    );

    // Another address: answered promptly while the slow ones are held.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let asked = Instant::now();
    let health = other
        .get(format!("{}/healthz", served.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/healthz answers");
    assert_eq!(health.status(), 200);
    let health_latency = asked.elapsed();

    let body = market_buy("0.01");
    let mut request = other
        .post(format!("{}/v1/signals/hook", served.base))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(5))
        .body(body.clone());
    for (name, value) in signed_headers("msg_beside_slowloris", &body) {
        request = request.header(name, value);
    }
    let asked = Instant::now();
    let signal = request.send().await.expect("the signal is answered");
    let signal_latency = asked.elapsed();
    assert_eq!(signal.status(), 202, "{:?}", signal.text().await);
    // Generous for a loaded machine; unanswered they would time out at 5 s.
    assert!(
        health_latency < Duration::from_secs(2),
        "{health_latency:?}"
    );
    assert!(
        signal_latency < Duration::from_secs(3),
        "{signal_latency:?}"
    );
    assert!(
        opened.elapsed() < Duration::from_secs(HEADER_TIMEOUT_SECS),
        "the check ran after the header timeout ({:?}); it proves nothing",
        opened.elapsed()
    );

    // Every slow connection is closed: those over the cap at once, the rest after
    // the header timeout (with room for a loaded machine).
    let limit = Duration::from_secs(HEADER_TIMEOUT_SECS + 10);
    let waits: Vec<_> = slow
        .into_iter()
        .map(|stream| tokio::spawn(closed_within(stream, limit)))
        .collect();
    let mut still_open = 0;
    for wait in waits {
        if !wait.await.unwrap() {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "slow connections still open after {limit:?}");

    let log = std::fs::read_to_string(&served.log).unwrap();
    assert!(!log.contains('\u{1b}'), "ANSI codes in a log file:\n{log}");
    let start = log
        .lines()
        .find(|line| line.contains("tradehook listening"))
        .unwrap_or_else(|| panic!("no start-up line:\n{log}"));
    for expected in [&served.base, "Paper", "hook", "t.db"] {
        assert!(start.contains(expected), "{expected} missing: {start}");
    }
    assert!(
        log.contains("open-file limit"),
        "no warning about the low open-file limit:\n{log}"
    );
}
