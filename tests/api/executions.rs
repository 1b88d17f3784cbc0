//! The `executions` feed against the WebSocket fake: fills, the quirks Kraken
//! documents, cancels by the exchange, foreign orders, and a dropped socket whose
//! missed fills arrive in the snapshot after reconnecting, each recorded once; more
//! than the snapshot holds come from the REST trade history.

use std::time::{Duration, Instant};

use serde_json::Value;
use tradehook::config::{Config, Mode};

use crate::fills::{post, wait_status};
use crate::helpers::*;
use crate::support::fake_kraken::FakeKraken;
use crate::support::fake_kraken_ws::{canceled, filled, trade, FakeKrakenWs};

const LIMIT_BUY: &str =
    r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","price":"40000","volume":"0.05"}"#;

/// A live app on the fake Kraken with the executions feed on the WebSocket fake,
/// subscribed; with a placed limit buy of 0.05 XBTUSD at 40000 (its client order ID).
async fn live(kraken: &FakeKraken, ws: &FakeKrakenWs) -> (TestApp, String) {
    let mut exchange = kraken.exchange_config(Mode::Live);
    exchange.executions_feed = true;
    exchange.kraken_ws_url = ws.url.clone();
    let app = spawn_app_on_kraken(exchange, |config: &mut Config| {
        config.exchange.deadline_secs = 5;
    })
    .await;
    wait_until("the feed subscribes", Duration::from_secs(10), || {
        ws.subscriptions().0 >= 1
    })
    .await;
    let id = post(&app, "msg_ws_limit", LIMIT_BUY).await;
    wait_status(&app, &id, "placed").await;
    (app, id)
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fills_of(app: &TestApp, id: &str) -> usize {
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    order["events"].as_array().map_or(0, |events| {
        events
            .iter()
            .filter(|e| e["cause"].as_str().unwrap_or("").starts_with("fill "))
            .count()
    })
}

#[tokio::test]
async fn a_limit_order_goes_partially_filled_then_filled_with_its_average_price() {
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start().await;
    let (app, id) = live(&kraken, &ws).await;

    ws.push(trade(&id, "TA-1", 0.02, 39000.0, "partially_filled"));
    let order = wait_status(&app, &id, "partially_filled").await;
    assert_eq!(order["filled_volume"], "0.02");

    // A reconnect repeats the first trade in its snapshot: still one fill.
    ws.drop_connections();
    wait_until("the feed resubscribes", Duration::from_secs(10), || {
        ws.subscriptions().0 >= 2
    })
    .await;
    // Kraken's quirk: the last trade says partially_filled though it fills the order;
    // only the `filled` report completes it.
    ws.push(trade(&id, "TA-2", 0.03, 40000.0, "partially_filled"));
    let started = Instant::now();
    while fills_of(&app, &id).await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "second fill not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["status"], "partially_filled", "{order}");
    ws.push(filled(&id));
    let order = wait_status(&app, &id, "filled").await;
    // (0.02 × 39000 + 0.03 × 40000) / 0.05 = 39600
    assert_eq!(order["avg_price"], "39600", "{order}");
    assert_eq!(order["filled_volume"], "0.05");
    assert_eq!(order["fee"], "2");
    assert_eq!(order["fee_currency"], "USD");
    assert_eq!(fills_of(&app, &id).await, 2);
    assert_eq!(app.count("fills").await, 2);
}

#[tokio::test]
async fn a_cancel_by_the_exchange_is_recorded_with_its_reason_and_foreign_orders_are_ignored() {
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start().await;
    let (app, id) = live(&kraken, &ws).await;
    let mut foreign = trade("not-ours", "TF-1", 1.0, 1.0, "filled");
    foreign["cl_ord_id"] = Value::Null;
    ws.push(foreign);
    ws.push(trade(
        &uuid::Uuid::new_v4().to_string(),
        "TF-2",
        1.0,
        1.0,
        "filled",
    ));
    ws.push(canceled(&id, "Post only order"));
    let order = wait_status(&app, &id, "canceled").await;
    let last = order["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["cause"], "canceled by the exchange: Post only order");
    assert_eq!(
        app.count("fills").await,
        0,
        "foreign trades are never adopted"
    );
}

#[tokio::test]
async fn fills_missed_during_a_ten_second_drop_are_each_recorded_once_soon_after_reconnecting() {
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start().await;
    let (app, id) = live(&kraken, &ws).await;
    ws.set_down(true);
    ws.drop_connections();
    for n in 0..50 {
        ws.push(trade(
            &id,
            &format!("TD-{n}"),
            0.001,
            40000.0 + f64::from(n),
            "partially_filled",
        ));
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        app.count("fills").await,
        0,
        "nothing arrives while the socket is down"
    );
    ws.set_down(false);
    wait_until("the feed reconnects", Duration::from_secs(45), || {
        ws.subscriptions().0 >= 2
    })
    .await;
    let reconnected = ws.subscriptions().1.unwrap();
    while app.count("fills").await < 50 {
        assert!(
            reconnected.elapsed() < Duration::from_secs(2),
            "only {} of 50 fills recorded 2 s after reconnecting",
            app.count("fills").await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another reconnect repeats all 50 in its snapshot: nothing is recorded twice.
    ws.drop_connections();
    wait_until("the feed resubscribes", Duration::from_secs(10), || {
        ws.subscriptions().0 >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.count("fills").await, 50);
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["filled_volume"], "0.05", "{order}");
    assert_eq!(order["status"], "partially_filled");
}

#[tokio::test]
async fn eighty_fills_missed_while_disconnected_are_each_recorded_once_from_the_trade_history() {
    let kraken = FakeKraken::start().await;
    // Started with the REST fake, whose TradesHistory lists every trade pushed.
    let ws = FakeKrakenWs::start_with(&kraken).await;
    let (app, id) = live(&kraken, &ws).await;
    ws.set_down(true);
    ws.drop_connections();
    for n in 0..80 {
        ws.push(trade(
            &id,
            &format!("TG-{n}"),
            0.0005,
            40000.0 + f64::from(n),
            "partially_filled",
        ));
    }
    ws.set_down(false);
    wait_until("the feed reconnects", Duration::from_secs(45), || {
        ws.subscriptions().0 >= 2
    })
    .await;
    // The snapshot repeats only the last 50; the other 30 come from TradesHistory.
    let reconnected = Instant::now();
    while app.count("fills").await < 80 {
        assert!(
            reconnected.elapsed() < Duration::from_secs(15),
            "only {} of 80 fills recorded after reconnecting",
            app.count("fills").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(kraken.calls("TradesHistory") >= 1);
    // Another reconnect repeats the snapshot and the history: nothing twice.
    ws.drop_connections();
    wait_until("the feed resubscribes", Duration::from_secs(10), || {
        ws.subscriptions().0 >= 3
    })
    .await;
    wait_until("the second gap fill", Duration::from_secs(10), || {
        kraken.calls("TradesHistory") >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.count("fills").await, 80);
    assert_eq!(fills_of(&app, &id).await, 80);
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["filled_volume"], "0.04", "{order}");
    assert_eq!(order["status"], "partially_filled");
}
