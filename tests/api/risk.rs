//! The risk engine through the HTTP API: each rule at its edge, limits under
//! concurrency, the kill switch and the circuit breaker.

use futures::future::join_all;
use reqwest::Response;
use rust_decimal::Decimal;
use serde_json::Value;
use tradehook::config::{Config, PerPair};

use crate::helpers::*;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The string `field` of each element of the array `body[list]`, in order.
fn strings_at<'a>(body: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// Asserts that `response` is a risk refusal (422) whose first reason is `rule`.
async fn assert_refused_first_by(response: Response, rule: &str) {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reasons"][0]["rule"], rule);
}

/// One rule at its edge: the config, a signal just inside, one just outside.
struct Edge {
    rule: &'static str,
    configure: fn(&mut Config),
    inside: String,
    outside: String,
}

fn limit_buy(volume: &str, price: &str) -> String {
    format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"{volume}","price":"{price}"}}"#
    )
}

fn edges() -> Vec<Edge> {
    let now = chrono::Utc::now();
    let aged = |secs: i64| {
        format!(
            r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","signal_time":"{}"}}"#,
            (now - chrono::Duration::seconds(secs)).to_rfc3339()
        )
    };
    vec![
        Edge {
            rule: "pair",
            configure: |_| {},
            inside: market_buy("0.01"),
            outside: r#"{"pair":"SOLUSD","side":"buy","order_type":"market","volume":"1"}"#.into(),
        },
        Edge {
            rule: "order_type",
            configure: |_| {},
            inside: limit_buy("0.01", "50000"),
            outside: r#"{"pair":"XBTUSD","side":"sell","order_type":"stop-loss","volume":"0.01","price":"40000"}"#.into(),
        },
        Edge {
            rule: "size",
            configure: |c| {
                c.risk.max_order_volume.insert("XBTUSD".into(), "0.05".parse().unwrap());
            },
            inside: market_buy("0.05"),
            outside: market_buy("0.05000001"),
        },
        Edge {
            rule: "notional",
            configure: |c| c.risk.max_order_notional = Some(PerPair::All("1000".parse().unwrap())),
            inside: limit_buy("0.02", "50000"),
            outside: limit_buy("0.02", "50000.1"),
        },
        Edge {
            rule: "exchange_minimum",
            configure: |_| {},
            inside: limit_buy("0.00005", "50000"),
            outside: limit_buy("0.00004", "50000"),
        },
        Edge {
            rule: "leverage",
            configure: |_| {},
            inside: market_buy("0.01"),
            outside: r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","leverage":"2"}"#.into(),
        },
        Edge {
            rule: "staleness",
            configure: |c| c.risk.max_signal_age_secs = Some(30),
            inside: aged(25),
            outside: aged(40),
        },
        Edge {
            rule: "price_band",
            configure: |c| c.risk.price_band_pct = Some("2".parse().unwrap()),
            inside: limit_buy("0.01", "49000"),
            outside: limit_buy("0.01", "48900"),
        },
    ]
}

#[tokio::test]
async fn each_rule_passes_just_inside_and_refuses_just_outside_naming_itself() {
    for edge in edges() {
        let app = spawn_app_with(edge.configure).await;
        app.paper().set_price("XBTUSD", dec("50000"));
        let inside = app
            .post_hook(&format!("msg_in_{}", edge.rule), &edge.inside)
            .await;
        assert_eq!(
            inside.status(),
            202,
            "{}: inside {}",
            edge.rule,
            inside.text().await.unwrap()
        );
        let outside = app
            .post_hook(&format!("msg_out_{}", edge.rule), &edge.outside)
            .await;
        assert_eq!(outside.status(), 422, "{}: outside", edge.rule);
        let body: Value = outside.json().await.unwrap();
        let rules = strings_at(&body, "reasons", "rule");
        assert!(
            rules.contains(&edge.rule),
            "{}: refused by {rules:?}",
            edge.rule
        );
        assert_eq!(body["order"]["status"], "rejected");
    }
}

#[tokio::test]
async fn position_counts_the_balance_and_what_was_bought_since() {
    let app = spawn_app_with(|c| {
        c.risk
            .max_position
            .insert("XBT".into(), "0.5".parse().unwrap());
    })
    .await;
    app.paper().set_price("XBTUSD", dec("50000"));
    app.paper().set_balance("XXBT", dec("0.3"));
    assert_eq!(
        app.post_hook_query("wait=5", &market_buy("0.15"))
            .await
            .status(),
        202
    );
    // 0.3 held + 0.15 bought = 0.45; another 0.05 reaches 0.5 exactly, 0.06 would not.
    let over = app.post_hook("msg_pos_over", &market_buy("0.06")).await;
    assert_refused_first_by(over, "position").await;
    let inside = app.post_hook_owned("msg_pos_in".into(), market_buy("0.05"));
    assert_eq!(inside.await, 202);
}

#[tokio::test]
async fn all_failing_rules_are_reported_not_just_the_first() {
    let app = spawn_app_with(|c| {
        c.risk
            .max_order_volume
            .insert("XBTUSD".into(), "0.05".parse().unwrap());
    })
    .await;
    let body = r#"{"pair":"XBTUSD","side":"buy","order_type":"stop-loss","volume":"1","price":"40000","leverage":"3"}"#;
    let response = app.post_hook("msg_many", body).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let rules = strings_at(&body, "reasons", "rule");
    for rule in ["order_type", "leverage", "size"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
}

async fn burst(app: &TestApp, n: usize, body: impl Fn(usize) -> String) -> (usize, usize) {
    let bodies: Vec<String> = (0..n).map(&body).collect();
    let responses = join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| app.post_hook_owned(format!("msg_burst_{i}"), b.clone())),
    )
    .await;
    let accepted = responses.iter().filter(|&&s| s == 202).count();
    let refused = responses.iter().filter(|&&s| s == 422).count();
    (accepted, refused)
}

#[tokio::test]
async fn fifty_concurrent_signals_pass_an_order_rate_of_ten_exactly_ten_times() {
    let app = spawn_app_with(|c| c.risk.max_orders_per_minute = Some(10)).await;
    let (accepted, refused) = burst(&app, 50, |i| market_buy(&format!("0.01{i:02}"))).await;
    assert_eq!((accepted, refused), (10, 40));
    assert_eq!(app.count("orders").await, 50);
}

#[tokio::test]
async fn fifty_concurrent_signals_never_jointly_exceed_the_daily_notional() {
    let app = spawn_app_with(|c| c.risk.max_daily_notional = Some("5000".parse().unwrap())).await;
    // 0.01 XBT at 50000 = 500 USD each: exactly 10 fit in 5000.
    let (accepted, refused) = burst(&app, 50, |i| {
        format!(r#"{{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"0.01","price":"50000","strategy":"s{i}"}}"#)
    })
    .await;
    assert_eq!((accepted, refused), (10, 40));
}

#[tokio::test]
async fn the_kill_switch_needs_the_admin_token_and_survives_a_restart() {
    let app = spawn_app().await;
    assert_eq!(app.admin("/v1/admin/halt", None).await.0, 401);
    assert_eq!(app.admin("/v1/admin/halt", Some(AUDIT_TOKEN)).await.0, 401);
    let (status, state) = app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(state["halted"], true);

    let refused = app.post_hook("msg_halted", &market_buy("0.01")).await;
    assert_refused_first_by(refused, "halt").await;

    let dir = app.stop().await;
    let app = spawn_app_in(dir, |_| {}).await;
    let still = app.post_hook("msg_halted_2", &market_buy("0.01")).await;
    assert_eq!(still.status(), 422, "halt must survive a restart");

    assert_eq!(
        app.admin("/v1/admin/resume", Some(AUDIT_TOKEN)).await.0,
        401
    );
    let (status, state) = app.admin("/v1/admin/resume", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(state["halted"], false);
    let resumed = app.post_hook_owned("msg_resumed".into(), market_buy("0.01"));
    assert_eq!(resumed.await, 202);
}

#[tokio::test]
async fn the_circuit_breaker_halts_after_consecutive_exchange_failures() {
    let app = spawn_app_with(|c| c.risk.max_consecutive_exchange_failures = Some(3)).await;
    app.paper().reject_with(Some("EOrder:Insufficient funds"));
    for i in 0..3 {
        let response = app
            .post_hook_query("wait=5", &market_buy(&format!("0.0{}", i + 1)))
            .await;
        assert_eq!(response.status(), 202);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "failed");
    }
    let (status, state) = app.get_audit_as("/v1/admin/status", ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(state["halted"], true, "{state}");
    assert!(state["halt"]["reason"]
        .as_str()
        .unwrap()
        .contains("circuit breaker"));
    let refused = app
        .post_hook("msg_after_breaker", &market_buy("0.01"))
        .await;
    assert_eq!(refused.status(), 422);
    // The trip is in the audit trail of the order that tripped it.
    let (_, page) = app.get_audit("/v1/orders?status=failed&limit=1").await;
    let id = page["orders"][0]["client_order_id"].as_str().unwrap();
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    let causes = strings_at(&order, "events", "cause");
    assert!(
        causes.iter().any(|c| c.contains("circuit breaker")),
        "{causes:?}"
    );
}
