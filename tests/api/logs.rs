//! What `tradehook serve` writes to its log when fed secrets and hostile source names:
//! never a token secret, never a forged log line, never an unbounded line.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::formats::{now, TV_ALERT};
use crate::helpers::PASSPHRASE;

const WRONG_SECRET: &str = "tv-wrong-secret-4242424242";

/// Starts `tradehook serve` on a free port with `toml` (its database in `dir`);
/// returns the child (stderr piped) and its base URL once `/healthz` answers.
async fn serve(dir: &std::path::Path, toml: &str) -> (tokio::process::Child, String) {
    let config = dir.join("serve.toml");
    let toml = format!(
        "[database]\nurl = \"sqlite://{}/serve.db\"\n\n{toml}",
        dir.display()
    );
    std::fs::write(&config, toml).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradehook"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("TRADEHOOK_CONFIG")
        .env("RUST_LOG", "info")
        .env("TRADEHOOK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

/// The paper tradingview source every test here configures.
fn tv_source() -> String {
    format!(
        "[[sources]]\nname = \"tv\"\nauth = \"token\"\nformat = \"tradingview\"\n\
         secret = \"{PASSPHRASE}\"\n\n[risk]\nallowed_pairs = [\"XBTUSD\"]\n\
         trust_reference_price = true\n"
    )
}

#[tokio::test]
async fn secrets_and_hostile_source_names_never_reach_the_log_raw() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[exchange]\npaper_market_data = false\n\n{}", tv_source());
    let (mut child, base) = serve(dir.path(), &toml).await;
    let client = reqwest::Client::new();
    let alert = TV_ALERT.replace("TIMENOW", &now());
    let post = |source: String, body: String| {
        client
            .post(format!("{base}/v1/signals/{source}"))
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    assert_eq!(
        post("tv".into(), alert.clone()).await.unwrap().status(),
        202
    );
    let wrong = alert.replace(PASSPHRASE, WRONG_SECRET);
    assert_eq!(post("tv".into(), wrong).await.unwrap().status(), 401);
    let malformed = alert.replace("0.001", "NaN").replace("Long-", "Bad-");
    assert_eq!(post("tv".into(), malformed).await.unwrap().status(), 400);
    let forged_line = "x%0AERROR%20forged%20line%1B%5B31m%E2%80%AE";
    assert_eq!(
        post(forged_line.into(), alert.clone())
            .await
            .unwrap()
            .status(),
        401
    );
    let long_name = "n".repeat(60_000);
    assert_eq!(post(long_name, alert.clone()).await.unwrap().status(), 401);

    child.start_kill().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let _ = child.wait().await;
    assert!(stderr.contains("unknown source"), "{stderr}");
    assert!(!stderr.contains(PASSPHRASE), "the secret was logged");
    assert!(!stderr.contains(WRONG_SECRET), "a wrong secret was logged");
    assert!(
        !stderr.lines().any(|line| line.starts_with("ERROR forged")),
        "a forged log line: {stderr}"
    );
    assert!(
        !stderr.contains('\u{202E}'),
        "a bidi override reached the log"
    );
    let longest = stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2_000, "a {longest}-byte log line");
}

#[tokio::test]
async fn paper_balances_from_the_config_size_a_percent_alert() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[exchange]\npaper_market_data = false\npaper_balances = {{ USD = \"1000\" }}\n\n{}",
        tv_source()
    );
    let (_child, base) = serve(dir.path(), &toml).await;
    let alert = TV_ALERT
        .replace("TIMENOW", &now())
        .replace(r#""contracts": "0.001""#, r#""percent": "50""#)
        .replace("64250.5", "50000");
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/signals/tv"))
        .header("content-type", "text/plain")
        .body(alert)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        order["volume"], "0.01",
        "half of 1000 USD at 50000: {order}"
    );
}
