//! Malformed signals get a 4xx naming what is wrong, and write nothing.

use crate::helpers::*;

#[tokio::test]
async fn malformed_bodies_are_refused_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let cases = [
        ("{not json", "body"),
        (r#"["an", "array"]"#, "body"),
        (
            r#"{"pair":"XBTUSD","side":5,"order_type":"market","volume":"1"}"#,
            "side",
        ),
        (
            r#"{"pair":"XBTUSD","side":"hold","order_type":"market","volume":"1"}"#,
            "side",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","colour":"red"}"#,
            "colour",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"-1"}"#,
            "volume",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1e30"}"#,
            "volume",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"lots"}"#,
            "volume",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"1"}"#,
            "price",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","post_only":"yes"}"#,
            "post_only",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","client_order_id":"nope"}"#,
            "client_order_id",
        ),
        (
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","signal_time":"yesterday"}"#,
            "signal_time",
        ),
        (
            r#"{"side":"buy","order_type":"market","volume":"1"}"#,
            "pair",
        ),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let response = app.post_hook(&format!("msg_bad_{i}"), body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
        assert_eq!(error["field"], *field, "{body}: {error}");
    }
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn oversize_body_is_413_and_writes_nothing() {
    let app = spawn_app_with(|config| config.server.body_limit_bytes = 1024).await;
    let padding = "x".repeat(2000);
    let body = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","strategy":"{padding}"}}"#
    );
    let response = app.post_hook("msg_big", &body).await;
    assert_eq!(response.status(), 413);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "payload_too_large");
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = spawn_app().await;
    let body = market_buy("1");
    let mut request = app
        .client
        .post(format!("{}/v1/signals/hook", app.address))
        .header("content-type", "text/plain")
        .body(body.clone());
    for (name, value) in signed_headers("msg_text", &body) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn a_flood_from_one_address_is_429_before_anything_is_written() {
    let app = spawn_app_with(|config| config.server.rate_limit_per_minute = Some(60)).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let response = app.post_hook(&format!("msg_flood_{i}"), "{not json").await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 400).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(app.count("orders").await, 0);
}
