//! The webhook channel: every event kind arrives, signed with Standard Webhooks, with
//! the order record as the API returns it.

use std::time::Duration;

use std::sync::Arc;

use serde_json::Value;
use tradehook::exchange::AttemptOutcome;

use super::*;
use crate::scripted::Scripted;
use crate::support::receiver::Receiver;

#[tokio::test]
async fn every_event_kind_arrives_signed_with_its_stable_id_and_the_order_record() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, ALL_EVENTS)];
        fast(config);
        config.notifications.order_unknown_after_secs = 1;
        config.notifications.daily_summary_at = Some("00:00".into());
    })
    .await;
    let limit = Duration::from_secs(20);
    receiver
        .wait_for(limit, |r| !of_type(r, "startup").is_empty())
        .await;

    let placed = buy(&app, "0.01").await;
    app.wait_final(&placed).await;

    app.paper().reject_with(Some("EOrder:Insufficient funds"));
    let failed = buy(&app, "0.02").await;
    app.wait_final(&failed).await;
    app.paper().reject_with(None);

    app.paper().delay(Duration::from_secs(5));
    let slow = buy(&app, "0.03").await;
    app.wait_final_within(&slow, Duration::from_secs(15)).await;
    app.paper().delay(Duration::ZERO);

    assert_eq!(app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await.0, 200);
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let refused = app.post_hook(&id, &market_buy("0.04")).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        app.admin("/v1/admin/resume", Some(ADMIN_TOKEN)).await.0,
        200
    );

    let expected = [
        "startup",
        "order_placed",
        "order_failed",
        "order_unknown",
        "signal_rejected",
        "halted",
        "resumed",
        "daily_summary",
    ];
    let received = receiver
        .wait_for(limit, |r| {
            expected.iter().all(|k| !of_type(r, k).is_empty())
        })
        .await;
    let api = notifications(&app, "?status=delivered&limit=1000").await;
    for delivery in &received {
        let body = verified(delivery);
        let id = delivery.header("webhook-id");
        assert!(
            api.iter()
                .any(|n| n["id"] == id && n["event"] == body["type"]),
            "{id} is listed as delivered"
        );
        assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    }

    let one = |kind: &str| {
        let found = of_type(&received, kind);
        assert_eq!(found.len(), 1, "{kind} once: {found:?}");
        found[0].json()
    };
    let order_placed = of_type(&received, "order_placed")
        .into_iter()
        .map(Received::json)
        .find(|b| b["data"]["client_order_id"] == placed.as_str())
        .expect("order_placed of the first order");
    let (_, detail) = app.get_audit(&format!("/v1/orders/{placed}")).await;
    for key in [
        "client_order_id",
        "source",
        "pair",
        "side",
        "volume",
        "status",
        "txid",
        "signal",
    ] {
        assert_eq!(order_placed["data"][key], detail[key], "{key}");
    }
    assert_eq!(order_placed["data"]["status"], "placed");

    let order_failed = one("order_failed");
    assert_eq!(order_failed["data"]["client_order_id"], failed.as_str());
    assert!(order_failed["data"]["error"]
        .as_str()
        .unwrap()
        .contains("Insufficient funds"));

    let unknown = one("order_unknown");
    assert_eq!(unknown["data"]["client_order_id"], slow.as_str());
    assert!(unknown["data"]["unsettled_secs"].as_i64().unwrap() >= 1);
    // In order per order: the slow order's unknown came before its placement.
    let slow_events: Vec<String> = received
        .iter()
        .map(Received::json)
        .filter(|b| b["data"]["client_order_id"] == slow.as_str())
        .map(|b| b["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slow_events, ["order_unknown", "order_placed"]);

    let rejected = one("signal_rejected");
    let rules: Vec<&str> = rejected["data"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"halt"), "{rejected}");
    assert!(one("halted")["data"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("admin:"));
    assert_eq!(one("resumed")["data"]["by"], "admin");
    let summary = one("daily_summary");
    assert!(summary["data"]["sources"].is_object(), "{summary}");

    app.stop().await;
    let received = receiver.received();
    assert_eq!(of_type(&received, "shutdown").len(), 1, "shutdown goes out");
    let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "each id delivered once");
}

#[tokio::test]
async fn a_tripped_circuit_breaker_is_reported_as_halted() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, "\"halted\"")];
        config.risk.max_consecutive_exchange_failures = Some(2);
        fast(config);
    })
    .await;
    app.paper().reject_with(Some("EService:Unavailable"));
    for volume in ["0.01", "0.02"] {
        let id = buy(&app, volume).await;
        app.wait_final_within(&id, Duration::from_secs(15)).await;
    }
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| {
            !of_type(r, "halted").is_empty()
        })
        .await;
    let halted: Value = verified(of_type(&received, "halted")[0]);
    let reason = halted["data"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("circuit breaker"), "{reason}");
    assert!(
        received.iter().all(|r| r.json()["type"] == "halted"),
        "only halted was asked for"
    );
}

#[tokio::test]
async fn an_order_refused_as_late_is_reported_as_order_expired() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let scripted = Arc::new(Scripted::new());
    scripted.then(
        AttemptOutcome::DeadlineElapsed {
            error: "EOrder:Deadline elapsed".into(),
        },
        Some(r#"{"error":["EOrder:Deadline elapsed"]}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_on_in(dir, scripted, |config| {
        config.notify = vec![webhook("ops", &url, "\"order_expired\"")];
        fast(config);
    })
    .await;
    let id = buy(&app, "0.01").await;
    assert_eq!(app.wait_final(&id).await["status"], "expired");
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| {
            !of_type(r, "order_expired").is_empty()
        })
        .await;
    let expired = verified(of_type(&received, "order_expired")[0]);
    assert_eq!(expired["data"]["client_order_id"], id.as_str());
    assert_eq!(expired["data"]["error"], "EOrder:Deadline elapsed");
}

#[tokio::test]
async fn a_channel_takes_only_its_sources_and_by_default_no_rejections() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        let mut ops = webhook("ops", &url, "");
        ops.sources = Some(vec!["tv".into()]);
        config.notify = vec![ops];
        fast(config);
    })
    .await;
    let from_hook = buy(&app, "0.01").await;
    app.wait_final(&from_hook).await;
    assert_eq!(app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await.0, 200);
    let body = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","passphrase":"{PASSPHRASE}"}}"#
    );
    assert_eq!(app.post_with_headers("tv", &body, &[]).await.status(), 422);
    assert_eq!(
        app.admin("/v1/admin/resume", Some(ADMIN_TOKEN)).await.0,
        200
    );
    let body = body.replace("0.01", "0.02");
    let response = app.post_with_headers("tv", &body, &[]).await;
    assert_eq!(response.status(), 202);
    let from_tv: Value = response.json().await.unwrap();
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| {
            !of_type(r, "order_placed").is_empty() && !of_type(r, "resumed").is_empty()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = receiver
        .received()
        .into_iter()
        .chain(received)
        .collect::<Vec<_>>();
    let placed = of_type(&received, "order_placed");
    assert!(placed
        .iter()
        .all(|r| r.json()["data"]["client_order_id"] == from_tv["client_order_id"]));
    assert!(of_type(&received, "signal_rejected").is_empty());
    assert!(
        !of_type(&received, "halted").is_empty(),
        "non-order events ignore sources"
    );
}

#[tokio::test]
async fn a_fill_and_a_cancel_are_reported_with_what_filled_and_who_cancelled() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, "\"order_filled\", \"order_canceled\"")];
        fast(config);
    })
    .await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let filled = buy(&app, "0.01").await;
    let resting = crate::fills::post(&app, "msg_notify_rest", crate::cancel::LIMIT_BUY).await;
    crate::fills::wait_status(&app, &resting, "placed").await;
    let (status, body) = app
        .admin(&format!("/v1/orders/{resting}/cancel"), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");

    let limit = Duration::from_secs(20);
    let received = receiver
        .wait_for(limit, |r| {
            !of_type(r, "order_filled").is_empty() && !of_type(r, "order_canceled").is_empty()
        })
        .await;
    let fill = verified(of_type(&received, "order_filled")[0]);
    assert_eq!(fill["data"]["client_order_id"], filled.as_str(), "{fill}");
    assert_eq!(fill["data"]["status"], "filled", "{fill}");
    assert_eq!(fill["data"]["filled_volume"], "0.01", "{fill}");
    assert_eq!(fill["data"]["avg_price"], "50000", "{fill}");
    assert_eq!(fill["data"]["fee"], "2", "{fill}");
    let cancel = verified(of_type(&received, "order_canceled")[0]);
    assert_eq!(
        cancel["data"]["client_order_id"],
        resting.as_str(),
        "{cancel}"
    );
    assert_eq!(cancel["data"]["status"], "canceled", "{cancel}");
    assert_eq!(
        of_type(&received, "order_filled").len(),
        1,
        "one fill, one notification"
    );
}
