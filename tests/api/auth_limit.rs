//! The failed-authentication allowance (`server.rate_limit_per_minute`): its `429`
//! says when to retry (`Retry-After`), and that is when a failure is answered `401`
//! again.

use std::time::Duration;

use crate::helpers::*;

/// Posts a signal with a forged signature; returns the status and `Retry-After`.
async fn forged(app: &TestApp, i: usize) -> (u16, Option<u64>) {
    let body = market_buy("0.001");
    let mut headers = signed_headers(&format!("msg_forged_retry_{i}"), &body);
    headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let response = app.post_with_headers("hook", &body, &headers).await;
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    if status == 429 {
        assert_eq!(body["error"], "too_many_requests", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("retry in"),
            "{body}"
        );
    }
    (status, retry)
}

#[tokio::test]
async fn a_failed_authentication_429_carries_a_retry_after_that_holds() {
    // 12 a minute: bursts of 5, then one more failure every 5 s (a margin wide enough
    // for a loaded machine to send the burst before the next one comes back).
    let app = spawn_app_with(|config| config.server.rate_limit_per_minute = Some(12)).await;
    let mut answers = Vec::new();
    for i in 0..7 {
        answers.push(forged(&app, i).await);
    }
    let (statuses, retries): (Vec<u16>, Vec<Option<u64>>) = answers.iter().copied().unzip();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429], "{answers:?}");
    assert!(
        retries[..5].iter().all(Option::is_none),
        "a 401 has no Retry-After"
    );
    let retry = retries[6].expect("a 429 has Retry-After");
    assert!(
        (1..=5).contains(&retry),
        "the next failure is allowed within 5 s: {retry}"
    );
    // After waiting as told (plus slack), a failure is answered 401 again.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(300)).await;
    assert_eq!(forged(&app, 7).await.0, 401);
    // A valid signal was never affected.
    let valid = app.post_hook("msg_valid_retry", &market_buy("0.001")).await;
    assert_eq!(valid.status(), 202);
}
