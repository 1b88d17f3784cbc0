//! The Kraken client against the fake Kraken: signing, nonces, every scripted fault
//! and its classification, lookups, public data, and nonce persistence.

#[path = "kraken_client/balances.rs"]
mod balances;
#[path = "kraken_client/clock.rs"]
mod clock;
#[path = "kraken_client/concurrency.rs"]
mod concurrency;
#[path = "kraken_client/faults.rs"]
mod faults;
#[path = "kraken_client/lookups.rs"]
mod lookups;
mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rust_decimal::Decimal;
use uuid::Uuid;

use support::fake_kraken::{Behaviour, FakeKraken};
use tradehook::clock::{ManualClock, SharedClock};
use tradehook::config::Mode;
use tradehook::exchange::kraken::{KrakenExchange, MemoryNonceStore};
use tradehook::exchange::{AttemptOutcome, Exchange, LookupOutcome, OrderRequest};
use tradehook::pairs::PairTable;
use tradehook::signal::{CloseOrder, OrderType, Side};

pub(crate) fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub(crate) fn order_with_deadline(deadline: Duration) -> OrderRequest {
    OrderRequest {
        client_order_id: Uuid::new_v4(),
        userref: Some(7),
        pair: PairTable::snapshot().get("XBTUSD").unwrap().clone(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        volume: d("0.01"),
        price: Some(d("50000")),
        price2: None,
        time_in_force: None,
        post_only: false,
        reduce_only: false,
        leverage: None,
        close: None,
        deadline: Utc::now() + chrono::Duration::from_std(deadline).unwrap(),
    }
}

pub(crate) fn order() -> OrderRequest {
    order_with_deadline(Duration::from_secs(10))
}

pub(crate) fn client_in(kraken: &FakeKraken, mode: Mode) -> KrakenExchange {
    KrakenExchange::new(
        &kraken.exchange_config(mode),
        Arc::new(MemoryNonceStore::new()),
    )
    .unwrap()
}

pub(crate) fn client(kraken: &FakeKraken) -> KrakenExchange {
    client_in(kraken, Mode::Live)
}

pub(crate) async fn outcome_with(behaviour: Behaviour) -> (FakeKraken, AttemptOutcome) {
    let kraken = FakeKraken::start().await;
    kraken.script(behaviour);
    let attempt = client(&kraken).add_order(&order()).await;
    (kraken, attempt.outcome)
}

#[tokio::test]
async fn a_signed_add_order_is_placed_once_with_a_txid() {
    let kraken = FakeKraken::start().await;
    let order = order();
    let exchange = client(&kraken);
    let attempt = exchange.add_order(&order).await;

    let AttemptOutcome::Placed { txid } = &attempt.outcome else {
        panic!("{attempt:?}");
    };
    let orders = kraken.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(&orders[0].txid, txid);
    assert_eq!(
        orders[0].cl_ord_id.as_deref(),
        Some(order.client_order_id.to_string().as_str())
    );
    assert_eq!(attempt.request["pair"], "XBTUSD");
    assert_eq!(attempt.request["volume"], "0.01");
    assert!(attempt.request["deadline"].as_str().unwrap().ends_with('Z'));
    assert!(attempt.response.unwrap().contains(txid.as_str()));
    let shown = attempt.request.to_string();
    assert!(!shown.contains(kraken.api_key()));
    assert!(!shown.contains(&kraken.api_secret()[..16]));
    assert!(!shown.to_ascii_lowercase().contains("sign"));
    let headroom = exchange.headroom();
    assert!(headroom.trading["XBTUSD"].level > 0.9, "{headroom:?}");
    assert_eq!(headroom.trading["XBTUSD"].max, 60.0);
    assert_eq!(
        headroom.private.level, 0.0,
        "AddOrder is not a REST-counter call"
    );
}

#[tokio::test]
async fn validate_mode_is_accepted_without_placing_anything() {
    let kraken = FakeKraken::start().await;
    let attempt = client_in(&kraken, Mode::Validate).add_order(&order()).await;
    assert_eq!(attempt.outcome, AttemptOutcome::Validated);
    assert_eq!(attempt.request["validate"], "true");
    assert_eq!(kraken.order_count(), 0);
}

#[tokio::test]
async fn a_just_placed_order_can_be_invisible_to_lookups_for_a_moment() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::AcceptInvisibleFor(Duration::from_millis(300)));
    let exchange = client(&kraken);
    let order = order();
    assert!(matches!(
        exchange.add_order(&order).await.outcome,
        AttemptOutcome::Placed { .. }
    ));
    assert_eq!(
        exchange.find_order(&order).await.outcome,
        LookupOutcome::NotFound
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(matches!(
        exchange.find_order(&order).await.outcome,
        LookupOutcome::Found { .. }
    ));
}

#[tokio::test]
async fn an_order_with_a_close_is_sent_and_found_by_userref() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken);
    let mut order = order();
    order.order_type = OrderType::Market;
    order.price = None;
    order.close = Some(CloseOrder {
        order_type: OrderType::StopLoss,
        price: Some(d("45000")),
        price2: None,
    });
    let attempt = exchange.add_order(&order).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::Placed { .. }),
        "{attempt:?}"
    );
    let sent = &kraken.orders()[0];
    assert_eq!((sent.cl_ord_id.clone(), sent.userref), (None, Some(7)));
    let lookup = exchange.find_order(&order).await;
    let LookupOutcome::Found { state, .. } = lookup.outcome else {
        panic!("{lookup:?}");
    };
    assert_eq!(
        state, "closed",
        "market orders are found among closed orders"
    );
}

#[tokio::test]
async fn public_data_is_read_by_canonical_pair_id() {
    let kraken = FakeKraken::start().await;
    kraken.set_price("XBTUSD", d("61234.5"));
    let exchange = client(&kraken);
    let pair = PairTable::snapshot().get("XBTUSD").unwrap().clone();
    assert_eq!(exchange.last_price(&pair).await.unwrap(), d("61234.5"));
    let pairs = exchange.asset_pairs().await.unwrap();
    assert_eq!(pairs.get("XBTUSD").unwrap().id, "XXBTZUSD");
    assert_eq!(
        exchange.public().system_status().await.unwrap().status,
        "online"
    );
    let skew = (exchange.public().server_time().await.unwrap() - Utc::now()).num_seconds();
    assert!(skew.abs() <= 2);
    assert_eq!(exchange.balances().await.unwrap()["ZUSD"], d("100000"));
}

#[tokio::test]
async fn paper_mode_quotes_krakens_public_price_when_none_is_scripted() {
    use tradehook::exchange::kraken::KrakenPublic;
    use tradehook::exchange::paper::PaperExchange;
    let kraken = FakeKraken::start().await;
    kraken.set_price("ETHUSD", d("3100.25"));
    let paper = PaperExchange::new(PairTable::snapshot())
        .with_market_data(KrakenPublic::new(kraken.url()).unwrap());
    let pair = PairTable::snapshot().get("ETHUSD").unwrap().clone();
    assert_eq!(paper.last_price(&pair).await.unwrap(), d("3100.25"));
    assert_eq!(paper.clock_offset(), None, "paper mode measures no clock");
    paper.set_price("ETHUSD", d("1"));
    assert_eq!(paper.last_price(&pair).await.unwrap(), d("1"));
    assert_eq!(
        kraken.methods_called().keys().collect::<Vec<_>>(),
        ["Ticker"]
    );
}

#[tokio::test]
async fn nonces_survive_a_restart_and_a_backward_clock_through_sqlite() {
    use tradehook::exchange::kraken::SqliteNonceStore;
    use tradehook::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    let kraken = FakeKraken::start().await;
    let config = kraken.exchange_config(Mode::Live);

    let first = KrakenExchange::new(
        &config,
        Arc::new(SqliteNonceStore::from_store(store.clone())),
    )
    .unwrap();
    assert!(matches!(
        first.add_order(&order()).await.outcome,
        AttemptOutcome::Placed { .. }
    ));
    drop(first);

    let behind: SharedClock = Arc::new(ManualClock::new(Utc::now() - chrono::Duration::hours(1)));
    let nonces = Arc::new(SqliteNonceStore::from_store(store.clone()));
    let second = KrakenExchange::with_clock(&config, nonces, behind).unwrap();
    let attempt = second.add_order(&order()).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::Placed { .. }),
        "{attempt:?}"
    );
    assert_eq!(kraken.invalid_nonces(), 0);

    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT key_id, last_nonce FROM nonces")
        .fetch_all(store.reader())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(
        rows[0].0,
        kraken.api_key(),
        "the key itself is never stored"
    );
    assert!(rows[0].1 as u64 > *kraken.nonces().last().unwrap());
}

#[tokio::test]
async fn the_fake_like_kraken_refuses_a_second_open_order_with_the_same_cl_ord_id() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken);
    let order = order();
    assert!(matches!(
        exchange.add_order(&order).await.outcome,
        AttemptOutcome::Placed { .. }
    ));
    let again = exchange.add_order(&order).await.outcome;
    assert!(matches!(again, AttemptOutcome::Refused { .. }), "{again:?}");
    assert_eq!((kraken.order_count(), kraken.calls("AddOrder")), (1, 2));
}
