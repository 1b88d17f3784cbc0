//! What the binary logs, read from its stderr written to a file: one line per order
//! outcome, one per refused signal, and no colour codes.

use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::slowloris::serve_under_ulimit;

async fn post_signed(base: &str, id: &str, body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/v1/signals/hook?wait=5"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in signed_headers(id, body) {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn each_order_outcome_and_each_refused_signal_is_one_plain_log_line() {
    let served = serve_under_ulimit(4096).await;
    let placed = post_signed(&served.base, "msg_logged", &market_buy("0.01")).await;
    assert!(placed.status().is_success());
    let placed: serde_json::Value = placed.json().await.unwrap();
    let id = placed["client_order_id"].as_str().unwrap().to_owned();
    let refused_body = r#"{"pair":"ETHUSD","side":"sell","order_type":"market","volume":"2","strategy":"breakout"}"#;
    let refused = post_signed(&served.base, "msg_refused", refused_body).await;
    assert_eq!(refused.status(), 422);
    let refused: serde_json::Value = refused.json().await.unwrap();
    let refused_id = refused["order"]["client_order_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let started = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(&served.log).unwrap();
        if log.contains("order outcome") && log.contains("signal refused") {
            break log;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    let outcome = log
        .lines()
        .find(|line| line.contains("order outcome"))
        .unwrap();
    for expected in [
        id.as_str(),
        "source=hook",
        "pair=XBTUSD",
        "side=buy",
        "volume=0.01",
        "status=placed",
        "txid=P",
        "signal_to_wire_ms=",
    ] {
        assert!(outcome.contains(expected), "{expected} missing: {outcome}");
    }
    // Fields without a value are left out, not written as `None`.
    assert!(!outcome.contains("None"), "{outcome}");
    let refusal = log
        .lines()
        .find(|line| line.contains("signal refused"))
        .unwrap();
    for expected in [
        refused_id.as_str(),
        "pair=ETHUSD",
        "allowed_pairs",
        "strategy=\"breakout\"",
    ] {
        assert!(refusal.contains(expected), "{expected} missing: {refusal}");
    }
}
