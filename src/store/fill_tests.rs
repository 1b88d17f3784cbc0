//! The writer's fill planning on a real database: statuses, totals, the `fills` rows,
//! and a trade id recorded once.

use chrono::Utc;
use rust_decimal::Decimal;
use sqlx::SqliteConnection;

use super::*;
use crate::fills::{FillOutcome, FillReport, Liquidity};
use crate::risk::breaker::Effect;
use crate::risk::state::tests::temp_db;
use crate::risk::testkit::{market, now, signal};
use crate::store::claim::{self, Accepted, Claim};
use crate::store::orders::{self, Change};
use crate::store::transition::{self, StatusChange};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A placed buy of 0.4 XBTUSD; returns its client order ID.
async fn placed_order(conn: &mut SqliteConnection, ledger: &mut RiskLedger) -> Uuid {
    let mut config = crate::config::Config::default();
    config.risk.allowed_pairs = vec!["XBTUSD".into()];
    config.sources = vec![crate::config::SourceConfig {
        name: "tv".into(),
        auth: crate::config::AuthKind::Hmac,
        secret: None,
        secret_file: None,
        allowed_ips: Vec::new(),
        allowed_pairs: None,
        allowed_order_types: None,
        max_orders_per_minute: None,
        format: Default::default(),
        max_signals_per_minute: None,
        require_client_cert: None,
    }];
    let config = std::sync::Arc::new(config);
    let claim = Claim {
        config,
        source: "tv".into(),
        signal: signal(serde_json::json!({"pair": "XBTUSD", "side": "buy", "volume": "0.4"})),
        client_order_id: Uuid::new_v4(),
        content_hash: String::new(),
        market: market("XBTUSD", "50000"),
    };
    let Accepted::New(record) = claim::apply(conn, ledger, &claim, now()).await.unwrap() else {
        panic!("not accepted");
    };
    let change = StatusChange {
        client_order_id: record.client_order_id,
        to: OrderStatus::Placed,
        change: Change {
            txid: Some("OTX".into()),
            ..Change::because("placed")
        },
        effect: Effect::None,
        breaker_limit: None,
    };
    transition::apply(conn, ledger, &change, now())
        .await
        .unwrap();
    record.client_order_id
}

fn fill(id: Uuid, trade: &str, volume: &str, price: &str, completes: bool) -> FillReport {
    FillReport {
        client_order_id: id,
        trade_id: trade.into(),
        volume: dec(volume),
        price: dec(price),
        fee: dec("2"),
        fee_currency: "ZUSD".into(),
        liquidity: Liquidity::Maker,
        at: Utc::now(),
        completes,
    }
}

async fn recorded(outcome: Result<FillOutcome, ChangeError>) -> OrderRecord {
    match outcome.unwrap() {
        FillOutcome::Recorded(record) => *record,
        FillOutcome::Duplicate => panic!("a new fill was taken for a duplicate"),
    }
}

#[tokio::test]
async fn partial_fills_then_the_completing_one_make_a_filled_order_with_its_average() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ledger = RiskLedger::default();
    let id = placed_order(&mut conn, &mut ledger).await;
    let first = fill(id, "T1", "0.1", "50000", false);
    let order = recorded(apply(&mut conn, &mut ledger, &first, now()).await).await;
    assert_eq!(order.status, OrderStatus::PartiallyFilled);
    // Kraken may call the last trade `partially_filled`; the volume alone does not
    // complete the order, the `filled` execution does.
    let second = fill(id, "T2", "0.3", "51000", false);
    let order = recorded(apply(&mut conn, &mut ledger, &second, now()).await).await;
    assert_eq!(order.status, OrderStatus::PartiallyFilled);
    let last = fill(id, "T3", "0", "51000", true);
    let order = recorded(apply(&mut conn, &mut ledger, &last, now()).await).await;
    assert_eq!(order.status, OrderStatus::Filled);
    let stored = orders::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Filled);
    assert_eq!(stored.execution.filled_volume, Some(dec("0.4")));
    assert_eq!(stored.execution.avg_price, Some(dec("50750")));
    assert_eq!(stored.execution.cost, Some(dec("20300")));
    assert_eq!(stored.execution.fee, Some(dec("6")));
    assert_eq!(stored.execution.fee_currency.as_deref(), Some("ZUSD"));
    let fills: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fills")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fills, 3);
    let events: Vec<(String, String)> =
        sqlx::query_as("SELECT status, cause FROM order_events WHERE order_id = ? ORDER BY id")
            .bind(stored.id)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    let statuses: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "pending",
            "placed",
            "partially_filled",
            "partially_filled",
            "filled"
        ]
    );
    assert!(
        events[2]
            .1
            .contains("fill T1: 0.1 at 50000, fee 2 ZUSD (maker)"),
        "{}",
        events[2].1
    );
}

#[tokio::test]
async fn a_trade_seen_twice_is_recorded_once() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ledger = RiskLedger::default();
    let id = placed_order(&mut conn, &mut ledger).await;
    let once = fill(id, "TDUP", "0.1", "50000", false);
    recorded(apply(&mut conn, &mut ledger, &once, now()).await).await;
    let again = apply(&mut conn, &mut ledger, &once, now()).await.unwrap();
    assert!(matches!(again, FillOutcome::Duplicate));
    let stored = orders::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(stored.execution.filled_volume, Some(dec("0.1")));
    // The unique index holds even if the writer's check were bypassed.
    let row = crate::fills::sql::FillRow {
        order_id: stored.id,
        report: once,
    };
    assert!(crate::fills::sql::insert(&mut conn, &[row], 0)
        .await
        .is_err());
}

#[tokio::test]
async fn two_fills_with_one_trade_id_in_one_batch_count_once() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ledger = RiskLedger::default();
    let id = placed_order(&mut conn, &mut ledger).await;
    let once = fill(id, "TB", "0.2", "50000", false);
    let mut known = super::super::batch::find_many(&mut conn, &[id])
        .await
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut batch = Plan::default();
    let first = plan(&mut batch, &mut ledger, &mut known, &mut seen, &once, now()).unwrap();
    let second = plan(&mut batch, &mut ledger, &mut known, &mut seen, &once, now()).unwrap();
    assert!(matches!(first, FillOutcome::Recorded(_)));
    assert!(matches!(second, FillOutcome::Duplicate));
    batch.write(&mut conn, now()).await.unwrap();
    let stored = orders::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(stored.execution.filled_volume, Some(dec("0.2")));
}

#[tokio::test]
async fn a_fill_of_an_unknown_order_is_refused_and_writes_nothing() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ledger = RiskLedger::default();
    let foreign = fill(Uuid::new_v4(), "TF", "1", "1", true);
    let err = apply(&mut conn, &mut ledger, &foreign, now())
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::NotFound(_)), "{err}");
    let fills: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fills")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fills, 0);
}

#[tokio::test]
async fn placed_recorded_after_the_fill_keeps_the_order_filled() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ledger = RiskLedger::default();
    let id = placed_order(&mut conn, &mut ledger).await;
    let all = fill(id, "TA", "0.4", "50000", true);
    recorded(apply(&mut conn, &mut ledger, &all, now()).await).await;
    let late = StatusChange {
        client_order_id: id,
        to: OrderStatus::Placed,
        change: Change::because("the send's answer, late"),
        effect: Effect::None,
        breaker_limit: None,
    };
    let record = transition::apply(&mut conn, &mut ledger, &late, now())
        .await
        .unwrap();
    assert_eq!(record.status, OrderStatus::Filled);
}
