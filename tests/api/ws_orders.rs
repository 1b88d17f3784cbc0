//! Order entry over WebSocket v2 (`exchange.transport = "websocket"`) against the
//! fakes: an order goes out as `add_order` on the socket (no REST `AddOrder`), and
//! each ambiguous case — the acknowledgement lost, the socket dropped after the send
//! — passes through `unknown` and is settled by lookup with exactly one order at
//! the exchange, never by sending it again.

use std::time::Duration;

use serde_json::Value;
use tradehook::config::{Mode, Transport};

use crate::helpers::*;
use crate::support::fake_kraken::FakeKraken;
use crate::support::fake_kraken_ws::{FakeKrakenWs, WsBehaviour};

/// The order's deadline; an unacknowledged order is ambiguous after it.
const DEADLINE_SECS: u64 = 3;
/// Longest a test waits for a final status: deadline, grace, lookups and slack.
const SETTLE: Duration = Duration::from_secs(25);

/// A live app sending orders over the WebSocket fake (answering as `script` says),
/// and the client order ID of one market buy posted to it.
async fn one_order_after(
    script: impl IntoIterator<Item = WsBehaviour>,
) -> (FakeKraken, FakeKrakenWs, TestApp, String) {
    let kraken = FakeKraken::start().await;
    let ws = FakeKrakenWs::start_with(&kraken).await;
    for behaviour in script {
        ws.script(behaviour);
    }
    let mut exchange = kraken.exchange_config(Mode::Live);
    exchange.transport = Transport::Websocket;
    exchange.kraken_ws_url = ws.url.clone();
    let app = spawn_app_on_kraken(exchange, |config| {
        config.exchange.deadline_secs = DEADLINE_SECS;
    })
    .await;
    let response = app
        .post_hook(
            &format!("msg_{}", uuid::Uuid::new_v4().simple()),
            &market_buy("0.01"),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let id = body["client_order_id"].as_str().unwrap().to_owned();
    (kraken, ws, app, id)
}

/// The record is `placed` with the txid of the one order the exchange holds, which
/// arrived over the socket (REST `AddOrder` never called).
fn assert_one_order_over_the_socket(
    order: &Value,
    kraken: &FakeKraken,
    ws: &FakeKrakenWs,
    id: &str,
) {
    assert_eq!(order["status"], "placed", "{order}");
    assert_eq!(kraken.order_count(), 1, "{:?}", kraken.orders());
    assert_eq!(ws.orders_accepted(), 1, "sent over the socket once");
    assert_eq!(kraken.calls("AddOrder"), 0, "nothing went over REST");
    let held = kraken
        .order_by_cl_ord_id(id)
        .expect("held under its cl_ord_id");
    assert_eq!(order["txid"], held.txid.as_str(), "{order}");
    assert!(
        held.form.iter().all(|(k, _)| k != "nonce"),
        "add_order carries no nonce"
    );
}

fn statuses(order: &Value) -> Vec<String> {
    order["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_order_is_placed_over_the_socket_with_its_cl_ord_id_and_deadline() {
    let (kraken, ws, app, id) = one_order_after([]).await;
    let order = app.wait_final_within(&id, SETTLE).await;
    assert_one_order_over_the_socket(&order, &kraken, &ws, &id);
    let held = kraken.order_by_cl_ord_id(&id).unwrap();
    let field = |name: &str| {
        held.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert!(field("deadline").is_some(), "{:?}", held.form);
    assert_eq!(field("volume").as_deref(), Some("0.01"));
    assert!(!statuses(&order).contains(&"unknown".to_owned()), "{order}");
    assert!(
        order
            .to_string()
            .find(crate::support::fake_kraken::WS_TOKEN)
            .is_none(),
        "the session token is not recorded"
    );
    app.stop().await;
}

#[tokio::test]
async fn each_unacknowledged_order_is_unknown_then_found_never_resent() {
    for behaviour in [WsBehaviour::AcceptThenSilence, WsBehaviour::AcceptThenDrop] {
        let (kraken, ws, app, id) = one_order_after([behaviour]).await;
        let order = app.wait_final_within(&id, SETTLE).await;
        assert_one_order_over_the_socket(&order, &kraken, &ws, &id);
        assert!(
            statuses(&order).contains(&"unknown".to_owned()),
            "{behaviour:?} must pass through unknown: {order}"
        );
        app.stop().await;
    }
}
