//! Authentication: every forged or unauthorised request is the same `401` and writes
//! nothing.

use chrono::Utc;
use tradehook::ingress::standard_webhooks;

use crate::helpers::*;

fn headers(id: &str, ts: i64, signature: &str) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature.to_owned()),
    ]
}

fn sign_with(secret: &str, id: &str, ts: i64, body: &str) -> String {
    let key = standard_webhooks::decode_secret(secret).unwrap();
    standard_webhooks::sign(&key, id, ts, body.as_bytes())
}

#[tokio::test]
async fn every_forged_signature_is_401_with_one_body_and_writes_nothing() {
    let app = spawn_app().await;
    let body = market_buy("0.01");
    let now = Utc::now().timestamp();
    let good = sign_with(HMAC_SECRET, "msg_x", now, &body);
    let mac = &good[3..];
    let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("unknown source", "nope", headers("msg_x", now, &good)),
        ("no headers", "hook", vec![]),
        ("empty mac", "hook", headers("msg_x", now, "v1,")),
        (
            "truncated mac",
            "hook",
            headers("msg_x", now, &good[..good.len() - 6]),
        ),
        (
            "other version",
            "hook",
            headers("msg_x", now, &format!("v2,{mac}")),
        ),
        ("no version", "hook", headers("msg_x", now, mac)),
        (
            "stale",
            "hook",
            headers(
                "msg_x",
                now - 301,
                &sign_with(HMAC_SECRET, "msg_x", now - 301, &body),
            ),
        ),
        (
            "future",
            "hook",
            headers(
                "msg_x",
                now + 301,
                &sign_with(HMAC_SECRET, "msg_x", now + 301, &body),
            ),
        ),
        (
            "wrong secret",
            "hook",
            headers("msg_x", now, &sign_with(other_secret, "msg_x", now, &body)),
        ),
        ("other id", "hook", headers("msg_y", now, &good)),
        (
            "garbage timestamp",
            "hook",
            vec![
                ("webhook-id", "msg_x".into()),
                ("webhook-timestamp", "soon".into()),
                ("webhook-signature", good.clone()),
            ],
        ),
    ];
    let mut bodies = std::collections::HashSet::new();
    for (case, source, headers) in cases {
        let response = app.post_with_headers(source, &body, &headers).await;
        assert_eq!(response.status(), 401, "{case}");
        bodies.insert(response.text().await.unwrap());
    }
    let tampered = app
        .post_with_headers("hook", &market_buy("0.02"), &headers("msg_x", now, &good))
        .await;
    assert_eq!(tampered.status(), 401, "tampered body");
    bodies.insert(tampered.text().await.unwrap());
    assert_eq!(bodies.len(), 1, "401 bodies differ: {bodies:?}");
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("order_events").await, 0);
}

#[tokio::test]
async fn token_source_refuses_wrong_missing_passphrase_and_foreign_ips() {
    let app = spawn_app_with(|config| {
        config.sources.push(tradehook::config::SourceConfig {
            name: "fenced".into(),
            auth: tradehook::config::AuthKind::Token,
            secret: Some(tradehook::secret::Secret::new(PASSPHRASE)),
            secret_file: None,
            allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
            allowed_pairs: None,
            allowed_order_types: None,
            max_orders_per_minute: None,
            require_client_cert: None,
            format: Default::default(),
            max_signals_per_minute: None,
        });
    })
    .await;
    let with = |pass: &str| {
        format!(
            r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","passphrase":"{pass}"}}"#
        )
    };
    let wrong = app
        .post_with_headers("tv", &with("not-the-passphrase"), &[])
        .await;
    assert_eq!(wrong.status(), 401);
    let missing = app.post_with_headers("tv", &market_buy("1"), &[]).await;
    assert_eq!(missing.status(), 401);
    let not_json = app.post_with_headers("tv", "{garbage", &[]).await;
    assert_eq!(not_json.status(), 401);
    // The passphrase is right, but 127.0.0.1 is not in 10.0.0.0/8, and the
    // X-Forwarded-For of an untrusted peer is ignored.
    let fenced = app
        .post_with_headers(
            "fenced",
            &with(PASSPHRASE),
            &[("x-forwarded-for", "10.1.1.1".into())],
        )
        .await;
    assert_eq!(fenced.status(), 401);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn trusted_proxy_forwarded_address_is_checked_against_the_allow_list() {
    let app = spawn_app_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        config.sources[1].allowed_ips = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let body = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","passphrase":"{PASSPHRASE}"}}"#
    );
    let outside = app
        .post_with_headers(
            "tv",
            &body,
            &[("x-forwarded-for", "10.9.9.9, 203.0.113.5".into())],
        )
        .await;
    assert_eq!(outside.status(), 401);
    let inside = app
        .post_with_headers(
            "tv",
            &body,
            &[("x-forwarded-for", "203.0.113.5, 10.9.9.9".into())],
        )
        .await;
    assert_eq!(inside.status(), 202);
}

#[tokio::test]
async fn a_client_forwarded_line_before_the_proxy_line_does_not_pass_the_allow_list() {
    let app = spawn_app_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        config.sources[1].allowed_ips = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let body = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","passphrase":"{PASSPHRASE}"}}"#
    );
    // The client sends the allowed address itself; the proxy (the trusted peer, here
    // 127.0.0.1) appends the real one as a second header line.
    let spoofed = app
        .post_with_headers(
            "tv",
            &body,
            &[
                ("x-forwarded-for", "10.9.9.9".into()),
                ("x-forwarded-for", "203.0.113.5".into()),
            ],
        )
        .await;
    assert_eq!(spoofed.status(), 401);
    assert_eq!(app.count("orders").await, 0);
    // The same two lines the other way round: the right-most entry is allowed.
    let allowed = app
        .post_with_headers(
            "tv",
            &body,
            &[
                ("x-forwarded-for", "203.0.113.5".into()),
                ("x-forwarded-for", "10.9.9.9".into()),
            ],
        )
        .await;
    assert_eq!(allowed.status(), 202);
}

#[tokio::test]
async fn audit_api_needs_the_token() {
    let app = spawn_app().await;
    for path in [
        "/v1/orders",
        "/v1/orders/export",
        "/v1/orders/00000000-0000-0000-0000-000000000000",
    ] {
        let url = format!("{}{path}", app.address);
        let none = app.client.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path} without token");
        let wrong = app
            .client
            .get(&url)
            .bearer_auth("audit-token-0123456788")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
    }
    let (status, _) = app.get_audit("/v1/orders").await;
    assert_eq!(status, 200);
}
