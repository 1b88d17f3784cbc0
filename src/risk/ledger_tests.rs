//! The ledger against its definition: random sequences of claims (approved and
//! refused), status changes, clock steps and restarts, applied through the writer's
//! own functions ([`claim::apply`], [`transition::apply`]) on a real database; after
//! every step the in-memory state must equal what SQL over the table says
//! ([`crate::risk::state::load`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::*;
use crate::config::{AuthKind, Config, SourceConfig};
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::risk::state::{load as sql_state, tests::temp_db};
use crate::risk::testkit::{market, now, signal};
use crate::store::claim::{self, Accepted, Claim};
use crate::store::orders::Change;
use crate::store::transition::{self, StatusChange};

const PAIRS: [&str; 2] = ["XBTUSD", "ETHUSD"];
const SOURCES: [&str; 2] = ["a", "b"];

/// One step of a sequence.
#[derive(Debug, Clone)]
enum Step {
    /// A claim: pair, source, buy?, refused (leverage is off)?, volume in 0.01 units.
    Claim(usize, usize, bool, bool, u32),
    /// Move the n-th recorded order (modulo) to this status, when legal.
    Change(usize, OrderStatus),
    /// A fill of the n-th recorded order (modulo): trade id, volume in 0.01 units,
    /// completes the order? A trade id repeats often, as after a reconnect.
    Fill(usize, u8, u32, bool),
    /// Let this many seconds pass.
    Wait(i64),
    /// Restart: load the ledger afresh from the database.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    let status = prop::sample::select(vec![
        OrderStatus::Pending,
        OrderStatus::Unknown,
        OrderStatus::Placed,
        OrderStatus::Validated,
        OrderStatus::Failed,
        OrderStatus::Expired,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Canceled,
    ]);
    prop_oneof![
        4 => (0..2usize, 0..2usize, any::<bool>(), prop::bool::weighted(0.2), 1..500u32)
            .prop_map(|(p, s, buy, refused, v)| Step::Claim(p, s, buy, refused, v)),
        4 => (any::<usize>(), status).prop_map(|(n, to)| Step::Change(n, to)),
        3 => (any::<usize>(), 0..8u8, 1..200u32, any::<bool>())
            .prop_map(|(n, trade, v, done)| Step::Fill(n, trade, v, done)),
        2 => prop_oneof![0..20i64, 20..90i64, Just(6 * 3600), Just(13 * 3600)].prop_map(Step::Wait),
        1 => Just(Step::Restart),
    ]
}

fn config() -> Arc<Config> {
    let mut config = Config::default();
    config.risk.allowed_pairs = PAIRS.iter().map(|p| (*p).to_owned()).collect();
    config.sources = SOURCES
        .iter()
        .map(|name| SourceConfig {
            name: (*name).to_owned(),
            auth: AuthKind::Hmac,
            secret: None,
            secret_file: None,
            allowed_ips: Vec::new(),
            allowed_pairs: None,
            allowed_order_types: None,
            max_orders_per_minute: None,
            require_client_cert: None,
            format: Default::default(),
            max_signals_per_minute: None,
        })
        .collect();
    Arc::new(config)
}

fn claim_for(
    config: &Arc<Config>,
    pair: usize,
    source: usize,
    buy: bool,
    refused: bool,
    volume: u32,
) -> Claim {
    let mut changes = serde_json::json!({
        "pair": PAIRS[pair],
        "side": if buy { "buy" } else { "sell" },
        "volume": format!("{}.{:02}", volume / 100, volume % 100),
    });
    if refused {
        changes["leverage"] = serde_json::json!("2");
    }
    if volume % 3 == 0 {
        // Some limit orders: only those can rest on the book.
        changes["order_type"] = serde_json::json!("limit");
        changes["price"] = serde_json::json!("2000");
    }
    Claim {
        config: config.clone(),
        source: SOURCES[source].to_owned(),
        signal: signal(changes),
        client_order_id: Uuid::new_v4(),
        content_hash: String::new(),
        market: market(PAIRS[pair], "2000"),
    }
}

/// Asserts the ledger and SQL agree for every pair, source and balance age.
async fn assert_agree(conn: &mut SqliteConnection, ledger: &mut RiskLedger, at: DateTime<Utc>) {
    let table = crate::pairs::PairTable::snapshot();
    for pair in PAIRS {
        let info = table.get(pair).unwrap();
        let base_pairs: Vec<String> = table
            .iter()
            .filter(|p| p.base == info.base)
            .map(|p| p.altname.clone())
            .collect();
        for source in SOURCES {
            for balance_age in [None, Some(0), Some(5), Some(40)] {
                let query = StateQuery {
                    pair,
                    source,
                    base_pairs: &base_pairs,
                    balance_at: balance_age.map(|s| at - Duration::seconds(s)),
                    now: at,
                };
                let expected = sql_state(conn, &query).await.unwrap();
                let got = ledger.state_for(&query);
                assert_eq!(
                    got, expected,
                    "{pair} {source} balance age {balance_age:?} at {at}"
                );
            }
        }
    }
}

async fn run(steps: Vec<Step>) {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let config = config();
    let mut at = now();
    let mut ledger = RiskLedger::load(&mut conn, at).await.unwrap();
    let mut ids: Vec<Uuid> = Vec::new();
    for step in steps {
        match step {
            Step::Claim(pair, source, buy, refused, volume) => {
                let claim = claim_for(&config, pair, source, buy, refused, volume);
                match claim::apply(&mut conn, &mut ledger, &claim, at)
                    .await
                    .unwrap()
                {
                    Accepted::New(record) => {
                        assert!(!refused);
                        ids.push(record.client_order_id);
                    }
                    Accepted::Refused(_) => assert!(refused),
                    other => panic!("unexpected {other:?}"),
                }
            }
            Step::Change(n, to) if !ids.is_empty() => {
                let change = StatusChange {
                    client_order_id: ids[n % ids.len()],
                    to,
                    change: Change::because("test"),
                    effect: Effect::None,
                    breaker_limit: None,
                };
                // An illegal change is refused and must change nothing.
                let _ = transition::apply(&mut conn, &mut ledger, &change, at).await;
            }
            Step::Change(..) => {}
            Step::Fill(n, trade, volume, completes) if !ids.is_empty() => {
                let fill = crate::fills::FillReport {
                    client_order_id: ids[n % ids.len()],
                    trade_id: format!("T{trade}"),
                    volume: Decimal::new(i64::from(volume), 2),
                    price: Decimal::new(2000, 0),
                    fee: Decimal::new(8, 0),
                    fee_currency: "ZUSD".into(),
                    liquidity: crate::fills::Liquidity::Taker,
                    at,
                    completes,
                };
                // A repeated trade id or a fill the status cannot take changes nothing.
                let _ = crate::store::fill::apply(&mut conn, &mut ledger, &fill, at).await;
            }
            Step::Fill(..) => {}
            Step::Wait(seconds) => at += Duration::seconds(seconds),
            Step::Restart => ledger = RiskLedger::load(&mut conn, at).await.unwrap(),
        }
        assert_agree(&mut conn, &mut ledger, at).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_always_equals_what_sql_over_the_table_says(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(steps));
    }
}

#[tokio::test]
async fn a_failed_order_leaves_the_daily_notional_and_the_open_buys() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let config = config();
    let mut ledger = RiskLedger::load(&mut conn, now()).await.unwrap();
    let claim = claim_for(&config, 0, 0, true, false, 100);
    let Accepted::New(record) = claim::apply(&mut conn, &mut ledger, &claim, now())
        .await
        .unwrap()
    else {
        panic!("not accepted");
    };
    let query_pairs = vec!["XBTUSD".to_owned()];
    let query = StateQuery {
        pair: "XBTUSD",
        source: "a",
        base_pairs: &query_pairs,
        balance_at: Some(now()),
        now: now(),
    };
    let before = ledger.state_for(&query);
    assert_eq!(before.orders_last_minute, 1);
    assert_eq!(before.bought_since_balance, "1.00".parse().unwrap());
    assert_eq!(before.daily_notional, "2000".parse().unwrap());
    let change = StatusChange {
        client_order_id: record.client_order_id,
        to: OrderStatus::Failed,
        change: Change::because("test"),
        effect: Effect::None,
        breaker_limit: None,
    };
    transition::apply(&mut conn, &mut ledger, &change, now())
        .await
        .unwrap();
    let after = ledger.state_for(&query);
    assert_eq!(
        after.orders_last_minute, 1,
        "a failed order was still an attempt"
    );
    assert!(after.bought_since_balance.is_zero());
    assert!(after.daily_notional.is_zero());
}

#[tokio::test]
async fn the_breaker_trips_in_the_ledger_and_the_database_together() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let config = config();
    let mut ledger = RiskLedger::load(&mut conn, now()).await.unwrap();
    for n in 1..=2u32 {
        let claim = claim_for(&config, 0, 0, true, false, 1);
        let Accepted::New(record) = claim::apply(&mut conn, &mut ledger, &claim, now())
            .await
            .unwrap()
        else {
            panic!("not accepted");
        };
        let change = StatusChange {
            client_order_id: record.client_order_id,
            to: OrderStatus::Failed,
            change: Change::because("refused by the exchange: EOrder:Insufficient funds"),
            effect: Effect::Failure,
            breaker_limit: Some(2),
        };
        transition::apply(&mut conn, &mut ledger, &change, now())
            .await
            .unwrap();
        assert_eq!(ledger.failures(), n);
    }
    let halt = ledger.halt().expect("halted in memory");
    assert!(halt.reason.contains("circuit breaker"), "{}", halt.reason);
    let reloaded = RiskLedger::load(&mut conn, now()).await.unwrap();
    assert_eq!(reloaded.halt(), ledger.halt());
    assert_eq!(reloaded.failures(), 2);
}

#[tokio::test]
async fn a_buy_resting_since_before_the_balance_read_counts_its_unfilled_remainder() {
    let (_dir, pool) = temp_db().await;
    let mut conn = pool.acquire().await.unwrap();
    let config = config();
    let mut ledger = RiskLedger::load(&mut conn, now()).await.unwrap();
    // A limit buy: only orders that can rest on the book count as resting.
    let mut claim = claim_for(&config, 0, 0, true, false, 100);
    claim.signal = signal(serde_json::json!({
        "pair": PAIRS[0], "side": "buy", "volume": "1.00",
        "order_type": "limit", "price": "2000",
    }));
    let Accepted::New(record) = claim::apply(&mut conn, &mut ledger, &claim, now())
        .await
        .unwrap()
    else {
        panic!("not accepted");
    };
    let placed = StatusChange {
        client_order_id: record.client_order_id,
        to: OrderStatus::Placed,
        change: Change::because("test"),
        effect: Effect::None,
        breaker_limit: None,
    };
    transition::apply(&mut conn, &mut ledger, &placed, now())
        .await
        .unwrap();
    let fill = crate::fills::FillReport {
        client_order_id: record.client_order_id,
        trade_id: "T-rest".into(),
        volume: "0.4".parse().unwrap(),
        price: "2000".parse().unwrap(),
        fee: Decimal::ZERO,
        fee_currency: "ZUSD".into(),
        liquidity: crate::fills::Liquidity::Maker,
        at: now(),
        completes: false,
    };
    crate::store::fill::apply(&mut conn, &mut ledger, &fill, now())
        .await
        .unwrap();
    // The balance is read a minute later: it shows the 0.4 traded, not the 0.6 still
    // resting on the book, which the position rule must count.
    let later = now() + Duration::seconds(60);
    let pairs = vec!["XBTUSD".to_owned()];
    let query = StateQuery {
        pair: "XBTUSD",
        source: "a",
        base_pairs: &pairs,
        balance_at: Some(later),
        now: later,
    };
    assert_eq!(
        ledger.state_for(&query).bought_since_balance,
        "0.6".parse().unwrap()
    );
    assert_eq!(
        sql_state(&mut conn, &query)
            .await
            .unwrap()
            .bought_since_balance,
        "0.6".parse().unwrap()
    );
}
