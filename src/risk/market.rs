//! Gathering the [`MarketView`] before the write transaction: pair metadata, the last
//! price and, when the position rule needs it, the base asset's balance.
//!
//! Everything is cached with an injected clock, so a burst of signals costs Kraken a
//! call per pair every few seconds, not one per signal: tickers for [`Ttls::ticker`],
//! balances for [`Ttls::balance`], and the pair table (`AssetPairs`) for
//! [`Ttls::pairs`]. The pair table starts as the snapshot built into the binary
//! ([`PairTable::snapshot`]) and stays so while the exchange cannot be reached, so
//! paper mode works offline. Nothing here fails: what cannot be had is left out of
//! the view with the reason, and the rules that need it refuse.
//!
//! No lock is held across a network call; two signals racing past an expired entry
//! may both fetch it, which is harmless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::rules::position;
use super::view::{BalanceQuote, MarketView, PriceQuote};
use crate::clock::SharedClock;
use crate::config::RiskConfig;
use crate::exchange::{Exchange, ExchangeError};
use crate::pairs::{PairInfo, PairTable};
use crate::signal::{Side, Signal};
use crate::store::{pair_cache, Store};

/// How long each kind of market data is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Last prices: short, a price band is only as good as its reference.
    pub ticker: Duration,
    /// Balances: a few seconds; orders placed since are added from the database.
    pub balance: Duration,
    /// The pair table: precision and minimums change rarely.
    pub pairs: Duration,
    /// After a failed pair-table refresh, wait this long before trying again.
    pub pairs_retry: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Ttls {
            ticker: Duration::seconds(3),
            balance: Duration::seconds(5),
            pairs: Duration::hours(1),
            pairs_retry: Duration::minutes(1),
        }
    }
}

#[derive(Debug)]
struct PairsCache {
    table: Arc<PairTable>,
    /// When to ask the exchange for a fresh table; `None`: at once.
    next_refresh: Option<DateTime<Utc>>,
}

type Balances = Arc<HashMap<String, Decimal>>;

/// The market-data caches, shared by every request.
pub struct MarketData {
    clock: SharedClock,
    ttls: Ttls,
    pairs: Mutex<PairsCache>,
    tickers: Mutex<HashMap<String, PriceQuote>>,
    balances: Mutex<Option<(Balances, DateTime<Utc>)>>,
    /// Available balances (`BalanceEx`), for percent sizing.
    available: Mutex<Option<(Balances, DateTime<Utc>)>>,
    /// Where a freshly fetched pair table is kept across restarts.
    store: Option<Store>,
}

/// The caches hold plain values that stay consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MarketData {
    /// Empty caches with the default TTLs, starting from the built-in pair snapshot.
    pub fn new(clock: SharedClock) -> Self {
        Self::with_ttls(clock, Ttls::default())
    }

    /// Empty caches with the given TTLs.
    pub fn with_ttls(clock: SharedClock, ttls: Ttls) -> Self {
        MarketData {
            clock,
            ttls,
            pairs: Mutex::new(PairsCache {
                table: Arc::new(PairTable::snapshot()),
                next_refresh: None,
            }),
            tickers: Mutex::default(),
            balances: Mutex::default(),
            available: Mutex::default(),
            store: None,
        }
    }

    /// Keeps every freshly fetched pair table in `store` too, and starts from the one
    /// kept there (if any) instead of the built-in snapshot.
    pub async fn persisting_to(mut self, store: Store) -> Self {
        match pair_cache::load(&store).await {
            Ok(Some((table, fetched_at))) if table.iter().next().is_some() => {
                let mut cache = lock(&self.pairs);
                cache.table = Arc::new(table);
                cache.next_refresh = Some(fetched_at + self.ttls.pairs);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot read the cached pair table"),
        }
        self.store = Some(store);
        self
    }

    /// The pair table, refreshed from the exchange when due. On failure the table in
    /// hand (at first the snapshot) is kept and the refresh retried later.
    pub async fn pairs(&self, exchange: &dyn Exchange) -> Arc<PairTable> {
        let now = self.clock.now();
        {
            let cache = lock(&self.pairs);
            if cache.next_refresh.is_some_and(|at| now < at) {
                return cache.table.clone();
            }
        }
        let fetched = exchange.asset_pairs().await;
        let (table, fresh) = {
            let mut fresh = None;
            let mut cache = lock(&self.pairs);
            match fetched {
                Ok(table) if table.iter().next().is_some() => {
                    cache.table = Arc::new(table);
                    cache.next_refresh = Some(now + self.ttls.pairs);
                    fresh = Some(cache.table.clone());
                }
                Ok(_) => {
                    tracing::warn!("AssetPairs returned no pairs; keeping the current table");
                    cache.next_refresh = Some(now + self.ttls.pairs_retry);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "AssetPairs failed; keeping the current table");
                    cache.next_refresh = Some(now + self.ttls.pairs_retry);
                }
            }
            (cache.table.clone(), fresh)
        };
        if let (Some(fresh), Some(store)) = (fresh, &self.store) {
            if let Err(err) = pair_cache::save(store, &fresh, now).await {
                tracing::warn!(error = %err, "cannot cache the pair table");
            }
        }
        table
    }

    /// The pair's last price, from the cache when younger than the ticker TTL.
    pub async fn price(
        &self,
        exchange: &dyn Exchange,
        pair: &PairInfo,
    ) -> Result<PriceQuote, ExchangeError> {
        let now = self.clock.now();
        if let Some(quote) = lock(&self.tickers).get(&pair.altname) {
            if now - quote.at < self.ttls.ticker {
                return Ok(*quote);
            }
        }
        let price = exchange.last_price(pair).await?;
        if price <= Decimal::ZERO {
            return Err(ExchangeError(format!(
                "the ticker of {} quoted a price of {price}",
                pair.altname
            )));
        }
        let quote = PriceQuote { price, at: now };
        lock(&self.tickers).insert(pair.altname.clone(), quote);
        Ok(quote)
    }

    /// The balance of `asset` (a Kraken asset id such as `XXBT`; zero when Kraken does
    /// not list it), from the cache when younger than the balance TTL.
    pub async fn balance(
        &self,
        exchange: &dyn Exchange,
        asset: &str,
    ) -> Result<BalanceQuote, ExchangeError> {
        self.cached_balance(&self.balances, exchange.balances(), asset)
            .await
    }

    /// The balance of `asset` available for trading (not held by open orders; Kraken
    /// `BalanceEx`, the paper balance in paper mode), cached like [`Self::balance`].
    pub async fn available_balance(
        &self,
        exchange: &dyn Exchange,
        asset: &str,
    ) -> Result<BalanceQuote, ExchangeError> {
        self.cached_balance(&self.available, exchange.available_balances(), asset)
            .await
    }

    /// `asset` from `cache` when younger than the balance TTL, else from `fetch`.
    async fn cached_balance(
        &self,
        cache: &Mutex<Option<(Balances, DateTime<Utc>)>>,
        fetch: impl std::future::Future<Output = Result<HashMap<String, Decimal>, ExchangeError>>,
        asset: &str,
    ) -> Result<BalanceQuote, ExchangeError> {
        let now = self.clock.now();
        let cached = lock(cache)
            .as_ref()
            .filter(|(_, at)| now - *at < self.ttls.balance)
            .cloned();
        let (balances, at) = match cached {
            Some(hit) => hit,
            None => {
                let fresh = (Arc::new(fetch.await?), now);
                *lock(cache) = Some(fresh.clone());
                fresh
            }
        };
        let amount = balances.get(asset).copied().unwrap_or(Decimal::ZERO);
        Ok(BalanceQuote { amount, at })
    }

    /// Everything the rules may need about `signal`'s pair. Reads the balance only for
    /// a buy of an asset with a `max_position`.
    pub async fn gather(
        &self,
        exchange: &dyn Exchange,
        config: &RiskConfig,
        signal: &Signal,
    ) -> MarketView {
        let table = self.pairs(exchange).await;
        let Some(pair) = table.get(&signal.pair).cloned() else {
            return MarketView::default();
        };
        let same_base_pairs = table
            .iter()
            .filter(|p| p.base == pair.base)
            .map(|p| p.altname.clone())
            .collect();
        let mut view = MarketView {
            same_base_pairs,
            ..MarketView::default()
        };
        match self.price(exchange, &pair).await {
            Ok(quote) => view.price = Some(quote),
            Err(err) => view.price_error = Some(err.to_string()),
        }
        let needs_balance =
            signal.side == Side::Buy && position::limit_for(config, &pair).is_some();
        if needs_balance {
            match self.balance(exchange, &pair.base).await {
                Ok(quote) => view.balance = Some(quote),
                Err(err) => view.balance_error = Some(err.to_string()),
            }
        }
        view.pair = Some(pair);
        view
    }
}

#[cfg(test)]
#[path = "market_tests.rs"]
mod tests;
