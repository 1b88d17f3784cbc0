//! `GET /v1/notifications`, `POST /v1/notifications/{id}/redeliver`, the OpenAPI
//! document and the metrics.

use std::time::Duration;

use super::*;
use crate::support::receiver::{Answer, Receiver};

#[tokio::test]
async fn a_dead_notification_is_listed_and_redelivered_under_the_same_id() {
    let receiver = Receiver::start().await;
    receiver.always(Answer::Status(500));
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, "\"startup\"")];
        fast(config);
        config.notifications.give_up_after_secs = 2;
    })
    .await;
    let dead = wait_notifications(&app, Duration::from_secs(20), |all| {
        all.iter().any(|n| n["status"] == "dead")
    })
    .await;
    let dead = &dead[0];
    assert_eq!(dead["event"], "startup");
    assert!(dead["last_error"].as_str().unwrap().contains("HTTP 500"));
    let listed = notifications(&app, "?status=dead").await;
    assert_eq!(listed.len(), 1);
    assert!(notifications(&app, "?status=delivered").await.is_empty());
    let id = dead["id"].as_str().unwrap();
    let tries = receiver.received().len();

    let path = format!("/v1/notifications/{id}/redeliver");
    assert_eq!(app.admin(&path, Some(AUDIT_TOKEN)).await.0, 401);
    assert_eq!(app.admin(&path, None).await.0, 401);
    let (status, body) = app
        .admin("/v1/notifications/msg_nope/redeliver", Some(ADMIN_TOKEN))
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    receiver.always(Answer::Ok);
    let (status, body) = app.admin(&path, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["id"], id);
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| {
            r.iter().any(|r| r.status == 200)
        })
        .await;
    let delivered = received.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(delivered.header("webhook-id"), id);
    assert!(received.len() > tries);
    verified(delivered);
    wait_notifications(&app, Duration::from_secs(10), |all| {
        all.iter()
            .any(|n| n["id"] == id && n["status"] == "delivered")
    })
    .await;
}

#[tokio::test]
async fn the_listing_names_a_bad_parameter_and_needs_the_audit_token() {
    let app = spawn_app().await;
    let (status, body) = app.get_audit("/v1/notifications?status=lost").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "status");
    let (status, body) = app.get_audit("/v1/notifications?limit=0").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("limit")));
    let (status, body) = app.get_audit("/v1/notifications?colour=red").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = app
        .get_audit_as("/v1/notifications", "wrong-token-0123456789")
        .await;
    assert_eq!(status, 401);
    assert!(
        notifications(&app, "").await.is_empty(),
        "no channel, no notification"
    );
    assert_eq!(app.count("notifications").await, 0);
}

#[tokio::test]
async fn the_openapi_document_and_the_metrics_cover_notifications() {
    let receiver = Receiver::start().await;
    receiver.always(Answer::Status(503));
    let url = receiver.url();
    let app = spawn_app_with(|config| {
        config.notify = vec![webhook("ops", &url, "")];
        fast(config);
    })
    .await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/v1/notifications"]["get"].is_object());
    assert!(doc["paths"]["/v1/notifications/{id}/redeliver"]["post"].is_object());

    receiver
        .wait_for(Duration::from_secs(10), |r| !r.is_empty())
        .await;
    let started = std::time::Instant::now();
    loop {
        let metrics = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ready = metrics
            .contains(r#"tradehook_notifications_total{channel="ops",outcome="failed"}"#)
            && metrics.contains(r#"tradehook_notifications_outbox_depth{channel="ops"} 1"#)
            && metrics
                .contains(r#"tradehook_notifications_oldest_undelivered_seconds{channel="ops"}"#);
        if ready {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Once delivered, the depth reads 0 again.
    receiver.always(Answer::Ok);
    let started = std::time::Instant::now();
    loop {
        let metrics = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let empty = metrics.contains(r#"tradehook_notifications_outbox_depth{channel="ops"} 0"#)
            && metrics
                .contains(r#"tradehook_notifications_oldest_undelivered_seconds{channel="ops"} 0"#)
            && metrics
                .contains(r#"tradehook_notifications_total{channel="ops",outcome="delivered"} 1"#);
        if empty {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
