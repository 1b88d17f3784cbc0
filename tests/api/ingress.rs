//! Ingress limits and inputs that end up in logs, records and screens (issue 10 item
//! 7, issue 13 item 5): per-source limits with `Retry-After`, keep-alive kept after a
//! `429`, empty `webhook-id`, `/metrics` access, Bearer scheme case, halt reason
//! bounds, CSV formula neutralisation.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Sends `requests` raw HTTP/1.1 requests one after the other on one connection and
/// returns each answer's status line; fails if the connection does not carry them all.
async fn on_one_connection(address: &str, requests: &[String]) -> Vec<String> {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    let mut statuses = Vec::new();
    for request in requests {
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .unwrap();
            assert!(n > 0, "connection closed after {statuses:?}");
            buffer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buffer).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    statuses.push(text.lines().next().unwrap().to_owned());
                    break;
                }
            }
        }
    }
    statuses
}

fn raw_post(source: &str, body: &str, extra: &[(&str, String)]) -> String {
    let mut request = format!(
        "POST /v1/signals/{source} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

#[tokio::test]
async fn a_429_keeps_the_keep_alive_connection_usable() {
    let app = spawn_app_with(|config| config.server.rate_limit_per_minute = Some(60)).await;
    let body = market_buy("0.001");
    let mut requests: Vec<String> = (0..8)
        .map(|i| {
            let mut headers = signed_headers(&format!("msg_forged_{i}"), &body);
            headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
            raw_post("hook", &body, &headers)
        })
        .collect();
    requests.push(raw_post("hook", &body, &signed_headers("msg_ok", &body)));
    let statuses = on_one_connection(&app.address, &requests).await;
    assert!(statuses[7].contains(" 429 "), "{statuses:?}");
    assert!(statuses[8].contains(" 202 "), "{statuses:?}");
}

#[tokio::test]
async fn a_source_over_its_own_limit_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(|config| {
        config.sources[0].max_signals_per_minute = Some(3);
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let response = app
            .post_hook(&format!("msg_capped_{i}"), &market_buy("0.001"))
            .await;
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    // Counted: the metrics name the refusal.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"source="hook",outcome="source_rate_limited"} 2"#),
        "{metrics}"
    );
    let other = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.001","passphrase":"{PASSPHRASE}"}}"#
    );
    assert_eq!(app.post_with_headers("tv", &other, &[]).await.status(), 202);
    // The limit is checked on a kept-alive connection too, without dropping it.
    let body = market_buy("0.002");
    let requests = vec![
        raw_post("hook", &body, &signed_headers("msg_raw_1", &body)),
        raw_post("tv", &other.replace("0.001", "0.003"), &[]),
    ];
    let statuses = on_one_connection(&app.address, &requests).await;
    assert!(
        statuses[0].contains(" 429 ") && statuses[1].contains(" 202 "),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_empty_webhook_id_is_400_for_any_source() {
    let app = spawn_app().await;
    let body = market_buy("0.001");
    for source in ["hook", "no-such-source"] {
        let mut headers = signed_headers("", &body);
        headers[0].1 = String::new();
        let response = app.post_with_headers(source, &body, &headers).await;
        assert_eq!(response.status(), 400, "{source}");
    }
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn metrics_need_the_audit_token_unless_public() {
    let app = spawn_app_with(|config| config.server.metrics_public = false).await;
    let url = format!("{}/metrics", app.address);
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, _) = app.get_audit("/metrics").await;
    assert_eq!(status, 200);
    let lower = app
        .client
        .get(&url)
        .header("authorization", format!("bearer {AUDIT_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200, "the Bearer scheme is case-insensitive");
    let public = spawn_app().await;
    let response = public.client.get(format!("{}/metrics", public.address));
    assert_eq!(response.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_halt_reason_is_bounded_and_free_of_control_and_bidi_characters() {
    let app = spawn_app().await;
    let halt = |reason: String| {
        app.client
            .post(format!("{}/v1/admin/halt", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "reason": reason }))
            .send()
    };
    for reason in [
        "x".repeat(501),
        "fine\u{202E}enif".into(),
        "two\nlines".into(),
    ] {
        let response = halt(reason.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{reason:?}");
    }
    let (status, state) = app.get_audit_as("/v1/admin/status", ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(state["halted"], false, "no refused reason halted trading");
    assert_eq!(halt("x".repeat(500)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn csv_export_neutralises_formula_cells_and_strategy_refuses_bidi() {
    let app = spawn_app().await;
    let body = r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.001","strategy":"=HYPERLINK(1)"}"#;
    assert_eq!(app.post_hook("msg_formula", body).await.status(), 202);
    let bidi = body.replace("=HYPERLINK(1)", "a\u{202E}b");
    assert_eq!(app.post_hook("msg_bidi", &bidi).await.status(), 400);
    let csv = app
        .client
        .get(format!("{}/v1/orders/export?format=csv", app.address))
        .bearer_auth(AUDIT_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("'=HYPERLINK(1)"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
}
