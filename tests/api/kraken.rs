//! The service on (fake) Kraken, through its HTTP API: each signal is placed at most
//! once, and every fault ends in a final status that matches what the exchange holds.

use std::time::Duration;

use serde_json::Value;
use tradehook::config::{Config, Mode, PerPair};
use tradehook::signal::OrderType;

use crate::helpers::*;
use crate::support::fake_kraken::{Behaviour, FakeKraken};

/// Short deadlines keep the fault tests quick: an order Kraken never accepted is
/// known to be dead 2 s (+5 s grace) after it was sent.
const DEADLINE_SECS: u64 = 2;
/// Longest a fault test waits for a final status: deadline, grace, and slack.
const SETTLE: Duration = Duration::from_secs(20);

async fn live_app_with(kraken: &FakeKraken, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let adjust = |config: &mut Config| {
        config.exchange.deadline_secs = DEADLINE_SECS;
        adjust(config);
    };
    spawn_app_on_kraken(kraken.exchange_config(Mode::Live), adjust).await
}

/// Posts a market buy and returns its client order ID.
async fn post_buy(app: &TestApp, webhook_id: &str) -> String {
    let response = app.post_hook(webhook_id, &market_buy("0.01")).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["client_order_id"].as_str().unwrap().to_owned()
}

/// A fake Kraken that answers the first `AddOrder` calls as `script` says, a live app
/// on it with orders due within `deadline_secs`, and the client order ID of one
/// market buy posted to it.
async fn one_order_after(
    script: impl IntoIterator<Item = Behaviour>,
    deadline_secs: u64,
) -> (FakeKraken, TestApp, String) {
    let kraken = FakeKraken::start().await;
    for behaviour in script {
        kraken.script(behaviour);
    }
    let app = live_app_with(&kraken, |config| {
        config.exchange.deadline_secs = deadline_secs
    })
    .await;
    let id = post_buy(&app, &format!("msg_{}", uuid::Uuid::new_v4().simple())).await;
    (kraken, app, id)
}

/// Asserts the record is `placed` with the txid of the one order the fake holds.
fn assert_placed_as_at_kraken(order: &Value, kraken: &FakeKraken, id: &str) {
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.order_count(), 1, "{:?}", kraken.orders());
    let held = kraken
        .order_by_cl_ord_id(id)
        .expect("the fake holds the order under its client order ID");
    assert_eq!(order["txid"], held.txid.as_str(), "{order}");
}

fn causes(order: &Value) -> Vec<String> {
    order["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["cause"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn a_signal_is_placed_once_and_its_record_carries_the_exchange_txid() {
    let (kraken, app, id) = one_order_after([], DEADLINE_SECS).await;

    let order = app.wait_final(&id).await;
    assert_placed_as_at_kraken(&order, &kraken, &id);
    assert_eq!(kraken.calls("AddOrder"), 1);
    let held = kraken.order_by_cl_ord_id(&id).unwrap();
    assert_eq!(
        (held.pair.as_str(), held.side.as_str(), held.volume.as_str()),
        ("XBTUSD", "buy", "0.01")
    );
    assert_eq!(kraken.invalid_nonces(), 0);

    let attempt = order["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["status"] == "placed")
        .expect("the placing attempt is in the trail");
    assert_eq!(attempt["request"]["cl_ord_id"], id.as_str());
    assert!(attempt["response"].as_str().unwrap().contains(&held.txid));
    assert!(
        attempt["elapsed_ms"].is_u64(),
        "the attempt is timed: {attempt}"
    );
    let (_, export) = app.get_audit("/v1/orders").await;
    let everything = format!("{order}{export}");
    assert!(!everything.contains(kraken.api_key()), "the API key leaked");
    assert!(
        !everything.contains(kraken.api_secret()),
        "the API secret leaked"
    );
}

#[tokio::test]
async fn validate_mode_checks_the_order_at_kraken_without_placing_it() {
    let kraken = FakeKraken::start().await;
    let mut exchange = kraken.exchange_config(Mode::Validate);
    exchange.deadline_secs = DEADLINE_SECS;
    let app = spawn_app_on_kraken(exchange, |_| {}).await;
    let id = post_buy(&app, "msg_validate").await;

    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "validated", "{order}");
    assert!(order["txid"].is_null());
    assert_eq!(kraken.calls("AddOrder"), 1);
    assert_eq!(kraken.order_count(), 0);
}

#[tokio::test]
async fn rate_limit_and_nonce_refusals_are_retried_to_one_order() {
    let script = [
        "EAPI:Rate limit exceeded",
        "EAPI:Invalid nonce",
        "EOrder:Rate limit exceeded",
    ]
    .map(|error| Behaviour::Refuse(error.into()));
    // Each refusal also tells the client-side model that Kraken's counter is full,
    // so the retries wait for it to drain: give them room before the deadline.
    let (kraken, app, id) = one_order_after(script, 15).await;

    let order = app.wait_final_within(&id, SETTLE).await;
    assert_placed_as_at_kraken(&order, &kraken, &id);
    assert_eq!(
        kraken.calls("AddOrder"),
        4,
        "three refusals, then the order"
    );
    let causes = causes(&order).join("\n");
    assert!(causes.contains("EAPI:Rate limit exceeded"), "{causes}");
    assert!(causes.contains("EAPI:Invalid nonce"), "{causes}");
}

#[tokio::test]
async fn each_accepted_but_unanswered_order_is_found_and_placed_never_resent() {
    let cases = [
        Behaviour::AcceptThen502,
        Behaviour::AcceptThenDrop,
        Behaviour::AcceptThenDelay(Duration::from_secs(5)),
    ];
    for behaviour in cases {
        let (kraken, app, id) = one_order_after([behaviour.clone()], DEADLINE_SECS).await;

        let order = app.wait_final_within(&id, SETTLE).await;
        assert_placed_as_at_kraken(&order, &kraken, &id);
        assert_eq!(kraken.calls("AddOrder"), 1, "{behaviour:?}: resent");
        let statuses: Vec<&str> = order["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|event| event["status"].as_str())
            .collect();
        assert!(
            statuses.contains(&"unknown"),
            "{behaviour:?} must pass through unknown: {statuses:?}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn an_order_invisible_for_a_while_is_still_found() {
    // The order is accepted but the answer is lost, and lookups miss it at first.
    let script = [Behaviour::AcceptInvisibleThen502(Duration::from_secs(3))];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;
    let order = app.wait_final_within(&id, SETTLE).await;
    assert_placed_as_at_kraken(&order, &kraken, &id);
    assert_eq!(kraken.calls("AddOrder"), 1);
    let causes = causes(&order).join("\n");
    assert!(
        causes.contains("not visible at the exchange yet"),
        "{causes}"
    );
}

#[tokio::test]
async fn unavailable_without_accept_ends_expired_with_no_order_and_no_resend() {
    let script = [Behaviour::Refuse("EService:Unavailable".into())];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;

    let order = app.wait_final_within(&id, SETTLE).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert!(order["txid"].is_null());
    assert_eq!(kraken.order_count(), 0);
    assert_eq!(
        kraken.calls("AddOrder"),
        1,
        "an ambiguous order is never resent"
    );
    assert!(kraken.calls("OpenOrders") + kraken.calls("ClosedOrders") >= 2);
}

#[tokio::test]
async fn a_final_refusal_is_failed_with_the_exchange_error_kept() {
    let script = [Behaviour::Refuse("EOrder:Insufficient funds".into())];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;

    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "failed", "{order}");
    assert!(
        order["error"]
            .as_str()
            .unwrap()
            .contains("EOrder:Insufficient funds"),
        "{order}"
    );
    assert_eq!(kraken.order_count(), 0);
    assert_eq!(
        kraken.calls("AddOrder"),
        1,
        "a final refusal is not retried"
    );
}

#[tokio::test]
async fn a_deadline_that_passes_before_any_accept_makes_the_order_expired() {
    let script = vec![Behaviour::Refuse("EAPI:Rate limit exceeded".into()); 100];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;

    let order = app.wait_final_within(&id, SETTLE).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert_eq!(kraken.order_count(), 0);
    assert!(kraken.calls("AddOrder") >= 2, "refusals were retried");
    let causes = causes(&order).join("\n");
    assert!(causes.contains("deadline"), "{causes}");
}

#[tokio::test]
async fn a_deadline_elapsed_refusal_is_expired() {
    let script = [Behaviour::Refuse("EService:Deadline elapsed".into())];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;

    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert_eq!(kraken.order_count(), 0);
    assert_eq!(kraken.calls("AddOrder"), 1);
}

#[tokio::test]
async fn concurrent_signals_are_each_placed_once_with_distinct_nonces() {
    let kraken = FakeKraken::start().await;
    // Requests are handed to their connections in nonce order but may overtake each
    // other on the way (the lock is not held across Kraken's answer): a key's nonce
    // window, as the README recommends, takes them as they come.
    kraken.set_nonce_window(5_000);
    let app = live_app_with(&kraken, |config| {
        config.risk.max_orders_per_minute = None;
    })
    .await;
    let posts = (0..20).map(|n| {
        let body = market_buy(&format!("0.0{}", n % 9 + 1));
        app.post_hook_owned(format!("msg_concurrent_{n}"), body)
    });
    let statuses = futures::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");

    let (_, list) = app.get_audit("/v1/orders?limit=100").await;
    let ids: Vec<String> = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["client_order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 20);
    for id in &ids {
        let order = app.wait_final_within(id, SETTLE).await;
        assert_eq!(order["status"], "placed", "{order}");
        let held = kraken.order_by_cl_ord_id(id).expect("held at the fake");
        assert_eq!(order["txid"], held.txid.as_str());
    }
    assert_eq!(kraken.order_count(), 20);
    assert_eq!(kraken.invalid_nonces(), 0);
    let mut nonces = kraken.nonces();
    let sent = nonces.len();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), sent, "a nonce was used twice");
}

/// A paper-mode app whose public market data would come from `kraken` (unless
/// `paper_market_data` is off), with a notional limit that needs a price.
async fn paper_app(kraken: &FakeKraken, paper_market_data: bool) -> TestApp {
    let mut exchange = kraken.exchange_config(Mode::Paper);
    exchange.api_key = None;
    exchange.api_secret = None;
    exchange.paper_market_data = paper_market_data;
    spawn_app_on_kraken(exchange, |config| {
        config.risk.max_order_notional = Some(PerPair::All("1000".parse().unwrap()));
    })
    .await
}

#[tokio::test]
async fn paper_mode_quotes_kraken_public_prices_without_touching_the_private_api() {
    assert!(tradehook::config::ExchangeConfig::default().paper_market_data);
    let kraken = FakeKraken::start().await;
    kraken.set_price("XBTUSD", "61000".parse().unwrap());
    let app = paper_app(&kraken, true).await;
    let id = post_buy(&app, "msg_paper_public").await;

    // The paper trader fills a market order at once, at Kraken's last trade.
    let order = crate::fills::wait_status(&app, &id, "filled").await;
    assert!(order["txid"].as_str().unwrap().starts_with('P'), "{order}");
    assert_eq!(order["notional"], "610", "priced at Kraken's last trade");
    assert_eq!(order["avg_price"], "61000", "{order}");
    assert!(kraken.calls("Ticker") >= 1);
    let private = ["AddOrder", "Balance", "OpenOrders", "ClosedOrders"];
    for method in private {
        assert_eq!(kraken.calls(method), 0, "paper mode called {method}");
    }
}

#[tokio::test]
async fn offline_paper_mode_calls_nothing_and_fails_closed_without_a_price() {
    let kraken = FakeKraken::start().await;
    let app = paper_app(&kraken, false).await;
    let response = app
        .post_hook("msg_paper_offline", &market_buy("0.01"))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("price"), "{body}");
    assert!(
        kraken.methods_called().is_empty(),
        "{:?}",
        kraken.methods_called()
    );
}

#[tokio::test]
async fn a_throttle_reaching_past_the_deadline_expires_the_order_at_once() {
    // Throttled until the last second chrono can represent: far past any deadline.
    let script = [Behaviour::Refuse("EService:Throttled:8210266876799".into())];
    let (kraken, app, id) = one_order_after(script, DEADLINE_SECS).await;

    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert_eq!(kraken.order_count(), 0);
    assert_eq!(kraken.calls("AddOrder"), 1, "no retry can be in time");
    let (status, _) = app.get_audit("/healthz").await;
    assert_eq!(status, 200, "the service is still up");
}

#[tokio::test]
async fn an_order_with_a_close_is_reconciled_by_its_userref() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::AcceptThen502);
    let app = live_app_with(&kraken, |config| {
        config.risk.allowed_order_types = Some(vec![OrderType::Limit, OrderType::StopLoss]);
    })
    .await;
    let body = r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"0.01",
                   "price":"50000","close":{"order_type":"stop-loss","price":"45000"}}"#;
    let response = app.post_hook("msg_with_close", body).await;
    let status = response.status();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["client_order_id"].as_str().unwrap().to_owned();

    let order = app.wait_final_within(&id, SETTLE).await;
    assert_eq!(order["status"], "placed", "{order}");
    let held = kraken.orders();
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].cl_ord_id, None,
        "Kraken refuses cl_ord_id with a close"
    );
    assert_eq!(order["userref"].as_i64(), held[0].userref, "{order}");
    assert_eq!(order["txid"], held[0].txid.as_str());
    assert_eq!(kraken.calls("AddOrder"), 1);
}

#[tokio::test]
async fn a_clock_far_from_krakens_stops_sending_and_readyz_says_why() {
    let kraken = FakeKraken::start().await;
    kraken.set_clock_skew(chrono::Duration::seconds(30));
    let app = live_app_with(&kraken, |_| {}).await;
    // The offset is measured at start-up (a few samples, about a second).
    let started = std::time::Instant::now();
    let body = loop {
        let (status, body) = app.get_audit("/readyz").await;
        if body["clock_in_sync"] == false {
            assert_eq!(status, 503, "{body}");
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body["reason"].as_str().unwrap().contains("clock"), "{body}");
    let id = post_buy(&app, "msg_skewed").await;
    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert_eq!(
        kraken.calls("AddOrder"),
        0,
        "nothing is sent on a skewed clock"
    );
}
