//! Operational endpoints: health, readiness, metrics.

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Recovery of an empty database is immediate, but give it a moment.
    let mut ready = None;
    for _ in 0..50 {
        let response = app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            ready = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ready = ready.expect("readyz never became ready");
    assert_eq!(ready["database"], true);
    assert_eq!(ready["recovered"], true);
}

#[tokio::test]
async fn metrics_count_signals_by_source_and_outcome() {
    let app = spawn_app().await;
    assert_eq!(
        app.post_hook_query("wait=5", &market_buy("0.01"))
            .await
            .status(),
        202
    );
    assert_eq!(
        app.post_with_headers("hook", &market_buy("0.01"), &[])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_with_headers("no-such-source", "{}", &[])
            .await
            .status(),
        401
    );
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"tradehook_signals_total{source="hook",outcome="accepted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tradehook_signals_total{source="hook",outcome="unauthorized"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tradehook_signals_total{source="unknown",outcome="unauthorized"} 1"#),
        "{text}"
    );
    assert!(!text.contains("no-such-source"));
    assert!(
        text.contains(r#"tradehook_order_status_changes_total{status="placed"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/signals/{source}",
        "/v1/orders",
        "/v1/orders/{client_order_id}",
        "/v1/orders/export",
        "/v1/admin/status",
        "/v1/admin/halt",
        "/v1/admin/resume",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let signal = &doc["components"]["schemas"]["SignalBody"]["properties"];
    for field in [
        "pair",
        "side",
        "order_type",
        "volume",
        "quote_volume",
        "client_order_id",
        "passphrase",
    ] {
        assert!(signal[field].is_object(), "SignalBody.{field} missing");
    }
    assert!(doc["components"]["securitySchemes"]["audit_token"].is_object());
}
