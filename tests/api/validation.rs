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
async fn an_unsupported_media_type_is_415_for_configured_and_unknown_sources_alike() {
    let app = spawn_app().await;
    let body = market_buy("1");
    for source in ["hook", "no-such-source"] {
        let mut request = app
            .client
            .post(format!("{}/v1/signals/{source}", app.address))
            .header("content-type", "application/xml")
            .body(body.clone());
        for (name, value) in signed_headers("msg_xml", &body) {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{source}");
    }
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn a_flood_of_forged_requests_is_429_but_never_stops_a_valid_signal() {
    let app = spawn_app_with(|config| config.server.rate_limit_per_minute = Some(60)).await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let body = market_buy("1");
        let mut headers = signed_headers(&format!("msg_forged_{i}"), &body);
        headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        let response = app.post_with_headers("hook", &body, &headers).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        4,
        "{statuses:?}"
    );
    let valid = app
        .post_hook("msg_valid_after_flood", &market_buy("1"))
        .await;
    assert_eq!(valid.status(), 202);
    // Malformed but authenticated signals are not limited either: they are 400s.
    for i in 0..10 {
        let response = app.post_hook(&format!("msg_bad_{i}"), "{not json").await;
        assert_eq!(response.status(), 400);
    }
    assert_eq!(app.count("orders").await, 1);
}
