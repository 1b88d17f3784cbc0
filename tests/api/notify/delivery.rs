//! Delivery under trouble: a receiver down for 30 s, one answering `429`, one that
//! never answers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::support::receiver::{Answer, Receiver};

/// The successful deliveries, by webhook-id.
pub fn delivered_ids(received: &[Received]) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for delivery in received.iter().filter(|r| r.status == 200) {
        *ids.entry(delivery.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    ids
}

#[tokio::test]
async fn a_receiver_down_for_30_s_then_back_gets_everything_once_in_order_per_order() {
    let mut receiver = Receiver::start().await;
    let url = receiver.url();
    receiver.stop().await;
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, ALL_EVENTS)];
        fast(config);
        config.notifications.retry_max_secs = 4;
        config.notifications.order_unknown_after_secs = 1;
    })
    .await;
    let down_since = Instant::now();
    let mut orders = Vec::new();
    for volume in ["0.01", "0.02", "0.03"] {
        orders.push(buy(&app, volume).await);
    }
    // Two slow orders: each reports order_unknown, then order_placed.
    app.paper().delay(Duration::from_secs(5));
    for volume in ["0.04", "0.05"] {
        orders.push(buy(&app, volume).await);
    }
    for id in &orders {
        app.wait_final_within(id, Duration::from_secs(20)).await;
    }
    assert_eq!(app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await.0, 200);
    assert_eq!(
        app.admin("/v1/admin/resume", Some(ADMIN_TOKEN)).await.0,
        200
    );

    // While it is down: everything waits, retried, with the failure recorded.
    let pending = wait_notifications(&app, Duration::from_secs(20), |all| {
        all.len() >= 10 && all.iter().any(|n| n["attempts"].as_i64().unwrap_or(0) >= 2)
    })
    .await;
    assert!(
        pending.iter().all(|n| n["status"] == "pending"),
        "{pending:#?}"
    );
    assert!(pending
        .iter()
        .filter(|n| n["attempts"].as_i64().unwrap() > 0)
        .all(|n| !n["last_error"].as_str().unwrap_or("").is_empty()));
    let stored: Vec<String> = pending
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();

    let down_for = Duration::from_secs(30).saturating_sub(down_since.elapsed());
    tokio::time::sleep(down_for).await;
    receiver.restart().await;

    wait_notifications(&app, Duration::from_secs(30), |all| {
        all.iter().all(|n| n["status"] == "delivered")
    })
    .await;
    let received = receiver.received();
    let ids = delivered_ids(&received);
    for id in &stored {
        assert_eq!(ids.get(id), Some(&1), "{id} delivered exactly once");
    }
    for delivery in &received {
        verified(delivery);
    }
    // In order per order, and the resume after its halt.
    for id in &orders {
        let kinds: Vec<String> = received
            .iter()
            .map(Received::json)
            .filter(|b| b["data"]["client_order_id"] == id.as_str())
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("order_placed"),
            "{kinds:?}"
        );
        assert_eq!(
            kinds.len(),
            kinds.iter().collect::<std::collections::HashSet<_>>().len()
        );
    }
    for slow in &orders[3..] {
        let kinds: Vec<String> = received
            .iter()
            .map(Received::json)
            .filter(|b| b["data"]["client_order_id"] == slow.as_str())
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, ["order_unknown", "order_placed"]);
    }
    let switch: Vec<String> = received
        .iter()
        .map(Received::json)
        .filter(|b| b["type"] == "halted" || b["type"] == "resumed")
        .map(|b| b["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(switch, ["halted", "resumed"]);
}

#[tokio::test]
async fn a_receiver_answering_429_is_left_alone_for_its_retry_after() {
    let receiver = Receiver::start().await;
    receiver.script(vec![Answer::TooMany {
        retry_after_secs: 3,
    }]);
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, ALL_EVENTS)];
        fast(config);
    })
    .await;
    // The start-up notification meets the 429; the order's comes while it holds.
    let received = receiver
        .wait_for(Duration::from_secs(10), |r| !r.is_empty())
        .await;
    let first = received[0].at;
    buy(&app, "0.01").await;
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| {
            !of_type(r, "startup").is_empty() && !of_type(r, "order_placed").is_empty()
        })
        .await;
    assert_eq!(received[0].status, 429);
    let second = received[1].at;
    assert!(
        second.duration_since(first) >= Duration::from_millis(2900),
        "the next request came {:?} after the 429",
        second.duration_since(first)
    );
    let retried = of_type(&received, "startup")[0];
    assert_eq!(
        retried.header("webhook-id"),
        received[0].header("webhook-id")
    );
    assert!(retried.at.duration_since(first) >= Duration::from_millis(2900));
    let startup = notifications(&app, "?status=delivered")
        .await
        .into_iter()
        .find(|n| n["event"] == "startup")
        .unwrap();
    assert_eq!(startup["attempts"], 2);
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
        metrics
            .contains(r#"tradehook_notifications_total{channel="ops",outcome="rate_limited"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_delay_signals() {
    let receiver = Receiver::start().await;
    receiver.always(Answer::Hang);
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, ALL_EVENTS)];
        fast(config);
        config.notifications.timeout_secs = 30;
    })
    .await;
    receiver
        .wait_for(Duration::from_secs(10), |r| !r.is_empty())
        .await;
    let mut latencies = Vec::new();
    for i in 0..40 {
        let started = Instant::now();
        let response = app
            .post_hook(&format!("msg_hang_{i}"), &market_buy("0.01"))
            .await;
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 202);
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    // Generous for a debug build on a loaded machine; a signal waiting on the hung
    // receiver would take its 30 s timeout.
    assert!(median < Duration::from_millis(250), "median {median:?}");
    assert!(worst < Duration::from_secs(2), "worst {worst:?}");
    assert_eq!(
        receiver.received().len(),
        1,
        "the worker is stuck on the first one"
    );
    let pending = notifications(&app, "?status=pending&limit=1000").await;
    assert!(
        pending.len() >= 40,
        "every placement is stored: {}",
        pending.len()
    );
}
