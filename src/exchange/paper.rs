//! The paper trader: a simulated exchange that places every order at once with a local
//! txid. The default mode, so a new user can try the whole pipeline without a key.
//!
//! It fills what it places (module `paper_fills`): market orders at once at the
//! last price, limit orders when marketable or once a later price crosses them,
//! charging `exchange.paper_fee_pct` in the quote currency and moving its balances.
//!
//! Tests can script it to refuse, to delay, and to quote prices and balances. With
//! [`PaperExchange::with_market_data`] it quotes Kraken's public prices and pairs when
//! Kraken is reachable; nothing ever reaches Kraken's private API.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::kraken::KrakenPublic;
use super::paper_fills::{marketable, PaperBook, Resting};
use super::{
    Attempt, AttemptOutcome, Exchange, ExchangeError, Lookup, LookupOutcome, OrderRequest,
};
use crate::fills::{ExecutionEvent, Liquidity};
use crate::pairs::{PairInfo, PairTable};
use crate::signal::OrderType;

/// How the paper trader answers the next orders; changeable while it runs.
#[derive(Debug, Default, Clone)]
struct Script {
    /// Refuse every order with this Kraken error.
    reject_with: Option<String>,
    /// Wait this long before answering.
    delay: Duration,
}

/// A simulated exchange that keeps its orders in memory.
#[derive(Debug)]
pub struct PaperExchange {
    pairs: PairTable,
    script: Mutex<Script>,
    /// txid of every order placed, by client order ID.
    orders: Mutex<HashMap<Uuid, String>>,
    prices: Mutex<HashMap<String, Decimal>>,
    balances: Mutex<HashMap<String, Decimal>>,
    /// Kraken's public market data, used when no price is scripted.
    market_data: Option<KrakenPublic>,
    /// Resting limit orders, the fee and the fill stream.
    book: Mutex<PaperBook>,
}

impl PaperExchange {
    /// A paper trader knowing the given pairs, with no prices and empty balances.
    pub fn new(pairs: PairTable) -> Self {
        PaperExchange {
            pairs,
            script: Mutex::default(),
            orders: Mutex::default(),
            prices: Mutex::default(),
            balances: Mutex::default(),
            market_data: None,
            book: Mutex::default(),
        }
    }

    /// Charges `pct` percent of each fill's cost as its fee (default 0.40).
    pub fn with_fee_pct(self, pct: Decimal) -> Self {
        lock(&self.book).fee_pct = pct;
        self
    }

    /// Starts from these balances (by Kraken asset id).
    pub fn with_balances(self, balances: impl IntoIterator<Item = (String, Decimal)>) -> Self {
        lock(&self.balances).extend(balances);
        self
    }

    /// How many limit orders rest on the simulated book.
    pub fn resting_count(&self) -> usize {
        lock(&self.book).resting.len()
    }

    /// Fills the resting orders that the current price of their pair crosses (the
    /// public ticker, or a scripted price); returns how many filled. Run periodically
    /// when market data is on.
    pub async fn poll_resting(&self) -> usize {
        let pairs = lock(&self.book).resting_pairs();
        let mut filled = 0;
        for pair in pairs {
            match self.last_price(&pair).await {
                Ok(last) => filled += self.cross(&pair.altname, last),
                Err(err) => tracing::debug!(pair = %pair.altname, %err, "no paper price"),
            }
        }
        filled
    }

    fn cross(&self, altname: &str, last: Decimal) -> usize {
        let mut book = lock(&self.book);
        let mut balances = lock(&self.balances);
        book.cross(altname, last, &mut balances)
    }

    /// Fills a newly placed order as far as the simulated market allows.
    async fn execute(&self, order: &OrderRequest) {
        let resting = Resting {
            client_order_id: order.client_order_id,
            pair: order.pair.clone(),
            side: order.side,
            price: order.price.unwrap_or_default(),
            volume: order.volume,
        };
        let last = match order.order_type {
            OrderType::Market | OrderType::Limit => self.last_price(&order.pair).await,
            // Stop and take-profit orders wait for a trigger the paper trader does not
            // simulate: they stay placed.
            _ => return,
        };
        let book = lock(&self.book);
        let mut balances = lock(&self.balances);
        match (order.order_type, last) {
            (OrderType::Market, Ok(last)) => {
                book.fill(&resting, last, Liquidity::Taker, &mut balances);
            }
            (OrderType::Limit, Ok(last)) if marketable(order.side, resting.price, last) => {
                book.fill(&resting, last, Liquidity::Taker, &mut balances);
            }
            (OrderType::Market, Err(err)) => {
                tracing::warn!(order = %order.client_order_id, %err,
                    "no paper price: the market order stays placed, unfilled");
            }
            _ => {
                drop(balances);
                let mut book = book;
                book.resting.push(resting);
            }
        }
    }

    /// Quotes Kraken's public `Ticker` for pairs without a scripted price, and its
    /// `AssetPairs` instead of the built-in table, whenever Kraken answers.
    pub fn with_market_data(mut self, public: KrakenPublic) -> Self {
        self.market_data = Some(public);
        self
    }

    /// From now on, refuse every order with `error` (or stop refusing with `None`).
    pub fn reject_with(&self, error: Option<&str>) {
        lock(&self.script).reject_with = error.map(str::to_owned);
    }

    /// From now on, answer every order after `delay`.
    pub fn delay(&self, delay: Duration) {
        lock(&self.script).delay = delay;
    }

    /// Sets the simulated last price of a pair (by altname); resting orders it
    /// crosses fill.
    pub fn set_price(&self, altname: &str, price: Decimal) {
        lock(&self.prices).insert(altname.to_owned(), price);
        self.cross(altname, price);
    }

    /// Sets the simulated balance of an asset (by Kraken asset id, e.g. `XXBT`).
    pub fn set_balance(&self, asset: &str, amount: Decimal) {
        lock(&self.balances).insert(asset.to_owned(), amount);
    }

    /// How many orders the paper trader has placed.
    pub fn placed_count(&self) -> usize {
        lock(&self.orders).len()
    }
}

/// The maps hold plain data that stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A txid in Kraken's shape (`OABCDE-FGHIJ-KLMNOP`), prefixed `P` for paper.
fn paper_txid() -> String {
    super::paper_fills::kraken_like_id("P", 5)
}

fn describe(order: &OrderRequest) -> serde_json::Value {
    json!({
        "cl_ord_id": order.client_order_id,
        "userref": order.userref,
        "pair": order.pair.altname,
        "type": order.side.as_str(),
        "ordertype": order.order_type.as_str(),
        "volume": order.volume.to_string(),
        "price": order.price.map(|p| p.to_string()),
        "price2": order.price2.map(|p| p.to_string()),
        "deadline": order.deadline.to_rfc3339(),
    })
}

#[async_trait]
impl Exchange for PaperExchange {
    async fn add_order(&self, order: &OrderRequest) -> Attempt {
        let started = Instant::now();
        let script = lock(&self.script).clone();
        if !script.delay.is_zero() {
            tokio::time::sleep(script.delay).await;
        }
        let (outcome, response) = match script.reject_with {
            Some(error) => (
                AttemptOutcome::Refused {
                    error: error.clone(),
                },
                json!({"error": [error]}),
            ),
            None => {
                // A second AddOrder for the same ID answers with the first txid, so a
                // bug upstream shows up as a repeated txid rather than a second order.
                let (txid, new) = {
                    let mut orders = lock(&self.orders);
                    let new = !orders.contains_key(&order.client_order_id);
                    let txid = orders
                        .entry(order.client_order_id)
                        .or_insert_with(paper_txid)
                        .clone();
                    (txid, new)
                };
                if new {
                    self.execute(order).await;
                }
                let response = json!({"error": [], "result": {"txid": [txid]}});
                (AttemptOutcome::Placed { txid }, response)
            }
        };
        Attempt {
            request: describe(order),
            response: Some(response.to_string()),
            elapsed: started.elapsed(),
            outcome,
        }
    }

    async fn find_order(&self, order: &OrderRequest) -> Lookup {
        let found = lock(&self.orders).get(&order.client_order_id).cloned();
        let outcome = match &found {
            Some(txid) => LookupOutcome::Found {
                txid: txid.clone(),
                state: "closed".into(),
            },
            None => LookupOutcome::NotFound,
        };
        Lookup {
            request: json!({"cl_ord_id": order.client_order_id}),
            response: Some(json!({"paper": found}).to_string()),
            outcome,
        }
    }

    async fn last_price(&self, pair: &PairInfo) -> Result<Decimal, ExchangeError> {
        let scripted = lock(&self.prices).get(&pair.altname).copied();
        match (scripted, &self.market_data) {
            (Some(price), _) => Ok(price),
            (None, Some(public)) => public
                .last_price(pair)
                .await
                .map_err(|e| ExchangeError(e.to_string())),
            (None, None) => Err(ExchangeError(format!(
                "no paper price for {}",
                pair.altname
            ))),
        }
    }

    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        Ok(lock(&self.balances).clone())
    }

    async fn cancel_order(
        &self,
        order: &super::cancel::CancelRequest,
    ) -> super::cancel::CancelAttempt {
        lock(&self.book).cancel(order)
    }

    fn take_fills(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<ExecutionEvent>> {
        lock(&self.book).take_fills()
    }

    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError> {
        if let Some(public) = &self.market_data {
            match public.asset_pairs().await {
                Ok(pairs) => return Ok(pairs),
                Err(err) => {
                    tracing::debug!(%err, "Kraken AssetPairs unreachable; using the built-in table")
                }
            }
        }
        Ok(self.pairs.clone())
    }
}
