//! Ingress limits under floods (issue 10 item 7): valid signals from one address are
//! never refused for their number, and forged traffic from it never holds them up.

use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::formats::{now, post, with_format_sources, TV_ALERT};
use crate::helpers::*;

#[tokio::test]
async fn a_burst_of_two_hundred_valid_signals_from_one_address_is_all_accepted() {
    let app = spawn_app_with(|config| {
        config.server.rate_limit_per_minute = Some(600);
        // The burst opens 200 connections at once; the per-address connection cap
        // (64 by default, tests/api/slow_clients.rs) is not what this test is about.
        config.server.max_connections_per_ip = 256;
    })
    .await;
    let posts =
        (0..200).map(|i| app.post_hook_owned(format!("msg_burst_{i}"), market_buy("0.001")));
    let statuses = futures::future::join_all(posts).await;
    assert!(statuses.iter().all(|&s| s == 202), "{statuses:?}");
    assert_eq!(app.count("orders").await, 200);
}

#[tokio::test]
async fn five_hundred_forged_requests_then_a_valid_signal_is_accepted_at_once() {
    let app = spawn_app_with(|config| {
        config.server.rate_limit_per_minute = Some(600);
        with_format_sources(config);
    })
    .await;
    let body = market_buy("0.001");
    let forged = (0..500).map(|i| {
        let body = body.clone();
        let app = &app;
        async move {
            let mut headers = signed_headers(&format!("msg_forged_{i}"), &body);
            headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
            let hmac = app
                .post_with_headers("hook", &body, &headers)
                .await
                .status();
            let token = post(
                app,
                "tradingview-token",
                "text/plain",
                r#"{"secret":"wrong"}"#,
            )
            .await
            .status();
            let unknown = app.post_with_headers("nope", &body, &[]).await.status();
            [hmac.as_u16(), token.as_u16(), unknown.as_u16()]
        }
    });
    let statuses: Vec<u16> = futures::stream::iter(forged)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .concat();
    assert!(statuses.iter().all(|s| [401, 429].contains(s)));
    assert!(statuses.contains(&429), "the forgers were slowed down");
    let started = Instant::now();
    let valid = app.post_hook("msg_valid", &body).await;
    assert_eq!(valid.status(), 202);
    let tv = TV_ALERT.replace("TIMENOW", &now());
    assert_eq!(
        post(&app, "tradingview-token", "text/plain", &tv)
            .await
            .status(),
        202
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
