//! Fills through the HTTP API on the paper exchange: a market order fills at once at
//! the last price with the paper fee, a limit order rests until the price crosses it,
//! and each fill is an audit event recorded once.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::*;

/// Polls the order until it has `status`; returns the detail view.
pub async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
        if order["status"] == status {
            return order;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "order {id} not {status} after 10 s: {order}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Posts `body` as a signal; returns its client order ID.
pub async fn post(app: &TestApp, id: &str, body: &str) -> String {
    let response = app.post_hook(id, body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    accepted["client_order_id"].as_str().unwrap().to_owned()
}

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a decimal string"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_market_order_goes_placed_to_filled_with_the_price_and_the_fee() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_market_fill", &market_buy("0.01")).await;
    let order = wait_status(&app, &id, "filled").await;
    assert_eq!(dec(&order["filled_volume"]), "0.01".parse().unwrap());
    assert_eq!(dec(&order["avg_price"]), "50000".parse().unwrap());
    assert_eq!(dec(&order["cost"]), "500".parse().unwrap());
    assert_eq!(dec(&order["fee"]), "2".parse().unwrap(), "0.40% of 500");
    assert_eq!(order["fee_currency"], "ZUSD");
    assert!(order["txid"].as_str().unwrap().starts_with('P'), "{order}");
    let events = order["events"].as_array().unwrap();
    let fills: Vec<&Value> = events
        .iter()
        .filter(|e| e["cause"].as_str().unwrap_or("").starts_with("fill "))
        .collect();
    assert_eq!(fills.len(), 1, "{events:?}");
    assert_eq!(fills[0]["status"], "filled");
    assert!(
        fills[0]["cause"]
            .as_str()
            .unwrap()
            .contains("0.01 at 50000, fee 2 ZUSD (taker)"),
        "{}",
        fills[0]["cause"]
    );
    assert_eq!(app.count("fills").await, 1);
}

#[tokio::test]
async fn a_limit_order_rests_until_the_price_crosses_it_then_fills_at_its_limit() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let body =
        r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","price":"49000","volume":"0.02"}"#;
    let id = post(&app, "msg_limit_rest", body).await;
    let order = app.wait_final(&id).await;
    assert_eq!(
        order["status"], "placed",
        "not marketable at 50000: {order}"
    );
    assert_eq!(app.paper().resting_count(), 1);
    app.paper().set_price("XBTUSD", "48500".parse().unwrap());
    let order = wait_status(&app, &id, "filled").await;
    assert_eq!(dec(&order["avg_price"]), "49000".parse().unwrap());
    assert_eq!(dec(&order["fee"]), "3.92".parse().unwrap(), "0.40% of 980");
    let events = order["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert!(
        last["cause"].as_str().unwrap().contains("(maker)"),
        "{last}"
    );
    assert_eq!(app.paper().resting_count(), 0);
}

#[tokio::test]
async fn a_marketable_limit_order_fills_at_once_at_the_last_price() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let body =
        r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","price":"51000","volume":"0.02"}"#;
    let id = post(&app, "msg_limit_now", body).await;
    let order = wait_status(&app, &id, "filled").await;
    assert_eq!(dec(&order["avg_price"]), "50000".parse().unwrap());
    assert_eq!(dec(&order["fee"]), "4".parse().unwrap(), "0.40% of 1000");
    let events = order["events"].as_array().unwrap();
    assert!(events.last().unwrap()["cause"]
        .as_str()
        .unwrap()
        .contains("(taker)"));
}

#[tokio::test]
async fn without_a_price_a_market_order_stays_placed() {
    let app = spawn_app().await;
    let id = post(&app, "msg_no_price", &market_buy("0.01")).await;
    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "placed", "{order}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.count("fills").await, 0);
}
