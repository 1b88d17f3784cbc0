//! Tests of the market-data caches against the paper trader and a clock that moves
//! only when told.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::exchange::paper::PaperExchange;
use crate::exchange::{Attempt, Lookup, OrderRequest};
use crate::risk::testkit::{dec, now, signal};

fn setup() -> (ManualClock, MarketData, PaperExchange) {
    let clock = ManualClock::new(now());
    let market = MarketData::new(Arc::new(clock.clone()));
    let paper = PaperExchange::new(PairTable::snapshot());
    paper.set_price("XBTUSD", dec("50000"));
    (clock, market, paper)
}

fn position_config() -> RiskConfig {
    let mut config = RiskConfig::default();
    config.max_position.insert("XBT".into(), dec("1"));
    config
}

#[tokio::test]
async fn a_known_pair_gets_its_metadata_price_and_sibling_pairs() {
    let (_clock, market, paper) = setup();
    let view = market
        .gather(
            &paper,
            &RiskConfig::default(),
            &signal(json!({"pair": "XBT/USD"})),
        )
        .await;
    assert_eq!(view.pair.as_ref().unwrap().altname, "XBTUSD");
    assert_eq!(
        view.price,
        Some(PriceQuote {
            price: dec("50000"),
            at: now()
        })
    );
    for sibling in ["XBTUSD", "XBTEUR", "XBTUSDT"] {
        assert!(
            view.same_base_pairs.contains(&sibling.to_owned()),
            "{sibling}"
        );
    }
    assert!(!view.same_base_pairs.contains(&"ETHUSD".to_owned()));
}

#[tokio::test]
async fn an_unknown_pair_gives_an_empty_view() {
    let (_clock, market, paper) = setup();
    let view = market
        .gather(
            &paper,
            &RiskConfig::default(),
            &signal(json!({"pair": "NOPEUSD"})),
        )
        .await;
    assert_eq!(view, MarketView::default());
}

#[tokio::test]
async fn a_missing_price_is_explained_not_an_error() {
    let (_clock, market, paper) = setup();
    let view = market
        .gather(
            &paper,
            &RiskConfig::default(),
            &signal(json!({"pair": "ETHUSD"})),
        )
        .await;
    assert_eq!(view.price, None);
    assert!(view.price_error.unwrap().contains("ETHUSD"));
}

#[tokio::test]
async fn the_ticker_is_reused_within_its_ttl_and_refetched_after() {
    let (clock, market, paper) = setup();
    let pair = PairTable::snapshot().get("XBTUSD").cloned().unwrap();
    assert_eq!(
        market.price(&paper, &pair).await.unwrap().price,
        dec("50000")
    );
    paper.set_price("XBTUSD", dec("51000"));
    clock.advance(Duration::milliseconds(2_999));
    assert_eq!(
        market.price(&paper, &pair).await.unwrap().price,
        dec("50000")
    );
    clock.advance(Duration::milliseconds(1));
    let quote = market.price(&paper, &pair).await.unwrap();
    assert_eq!(quote.price, dec("51000"));
    assert_eq!(quote.at, clock.now());
}

#[tokio::test]
async fn the_balance_is_read_only_for_a_buy_with_a_position_limit() {
    let (_clock, market, paper) = setup();
    paper.set_balance("XXBT", dec("0.25"));
    let buy = signal(json!({}));
    let view = market.gather(&paper, &RiskConfig::default(), &buy).await;
    assert_eq!(view.balance, None);
    let sell = signal(json!({"side": "sell"}));
    assert_eq!(
        market
            .gather(&paper, &position_config(), &sell)
            .await
            .balance,
        None
    );
    let view = market.gather(&paper, &position_config(), &buy).await;
    assert_eq!(
        view.balance,
        Some(BalanceQuote {
            amount: dec("0.25"),
            at: now()
        })
    );
}

#[tokio::test]
async fn balances_are_cached_and_an_unlisted_asset_is_zero() {
    let (clock, market, paper) = setup();
    paper.set_balance("XXBT", dec("0.25"));
    assert_eq!(
        market.balance(&paper, "XXBT").await.unwrap().amount,
        dec("0.25")
    );
    paper.set_balance("XXBT", dec("0.5"));
    clock.advance(Duration::seconds(4));
    let cached = market.balance(&paper, "XXBT").await.unwrap();
    assert_eq!((cached.amount, cached.at), (dec("0.25"), now()));
    assert_eq!(
        market.balance(&paper, "XETH").await.unwrap().amount,
        Decimal::ZERO
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        market.balance(&paper, "XXBT").await.unwrap().amount,
        dec("0.5")
    );
}

/// An exchange whose market data always fails, counting the pair-table requests.
#[derive(Default)]
struct Unreachable {
    asset_pair_calls: AtomicUsize,
}

#[async_trait]
impl Exchange for Unreachable {
    async fn add_order(&self, _: &OrderRequest) -> Attempt {
        unimplemented!("not used by the market data")
    }
    async fn find_order(&self, _: &OrderRequest) -> Lookup {
        unimplemented!("not used by the market data")
    }
    async fn last_price(&self, _: &PairInfo) -> Result<Decimal, ExchangeError> {
        Err(ExchangeError("connection refused".into()))
    }
    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        Err(ExchangeError("connection refused".into()))
    }
    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError> {
        self.asset_pair_calls.fetch_add(1, Ordering::SeqCst);
        Err(ExchangeError("connection refused".into()))
    }
}

#[tokio::test]
async fn offline_the_snapshot_is_used_and_retried_only_after_a_pause() {
    let clock = ManualClock::new(now());
    let market = MarketData::new(Arc::new(clock.clone()));
    let offline = Unreachable::default();
    let view = market
        .gather(&offline, &position_config(), &signal(json!({})))
        .await;
    assert_eq!(view.pair.unwrap().altname, "XBTUSD");
    assert!(view.price_error.unwrap().contains("connection refused"));
    assert!(view.balance_error.unwrap().contains("connection refused"));
    market.pairs(&offline).await;
    assert_eq!(offline.asset_pair_calls.load(Ordering::SeqCst), 1);
    clock.advance(Duration::minutes(1));
    market.pairs(&offline).await;
    assert_eq!(offline.asset_pair_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_fetched_pair_table_replaces_the_snapshot_until_it_is_due() {
    let clock = ManualClock::new(now());
    let market = MarketData::new(Arc::new(clock.clone()));
    let snapshot = PairTable::snapshot();
    let mut only_xbt = snapshot.get("XBTUSD").cloned().unwrap();
    only_xbt.ordermin = Some(dec("0.001"));
    let paper = PaperExchange::new(PairTable::from_pairs([only_xbt]));
    let table = market.pairs(&paper).await;
    assert_eq!(table.get("XBTUSD").unwrap().ordermin, Some(dec("0.001")));
    assert!(table.get("ETHUSD").is_none());
    // Within the hour the exchange is not asked again, even if it would now fail.
    clock.advance(Duration::minutes(59));
    let table = market.pairs(&Unreachable::default()).await;
    assert!(table.get("ETHUSD").is_none());
}

/// An exchange holding part of its balance for open orders, counting balance reads.
#[derive(Default)]
struct Held {
    available_calls: AtomicUsize,
}

#[async_trait]
impl Exchange for Held {
    async fn add_order(&self, _: &OrderRequest) -> Attempt {
        unimplemented!("not used by the market data")
    }
    async fn find_order(&self, _: &OrderRequest) -> Lookup {
        unimplemented!("not used by the market data")
    }
    async fn last_price(&self, _: &PairInfo) -> Result<Decimal, ExchangeError> {
        Ok(dec("50000"))
    }
    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        Ok(HashMap::from([("XXBT".to_owned(), dec("1"))]))
    }
    async fn available_balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        self.available_calls.fetch_add(1, Ordering::SeqCst);
        Ok(HashMap::from([("XXBT".to_owned(), dec("0.4"))]))
    }
    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError> {
        Ok(PairTable::snapshot())
    }
}

#[tokio::test]
async fn available_balances_are_cached_apart_from_the_total_balances() {
    let clock = ManualClock::new(now());
    let market = MarketData::new(Arc::new(clock.clone()));
    let held = Held::default();
    let available = market.available_balance(&held, "XXBT").await.unwrap();
    assert_eq!(available.amount, dec("0.4"));
    assert_eq!(
        market.balance(&held, "XXBT").await.unwrap().amount,
        dec("1")
    );
    clock.advance(Duration::seconds(4));
    market.available_balance(&held, "XXBT").await.unwrap();
    assert_eq!(held.available_calls.load(Ordering::SeqCst), 1, "cached");
    clock.advance(Duration::seconds(1));
    market.available_balance(&held, "XXBT").await.unwrap();
    assert_eq!(held.available_calls.load(Ordering::SeqCst), 2, "expired");
}

#[tokio::test]
async fn in_paper_mode_the_available_balance_is_the_paper_balance() {
    let (_, market, paper) = setup();
    paper.set_balance("ZUSD", dec("1000"));
    let available = market.available_balance(&paper, "ZUSD").await.unwrap();
    assert_eq!(available.amount, dec("1000"));
}
