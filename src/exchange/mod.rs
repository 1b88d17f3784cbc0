//! The exchange seam: what the executor needs from a venue, and the vocabulary for
//! what happened when it asked.
//!
//! Implementations: [`paper::PaperExchange`] (simulated, the default) and the Kraken
//! REST client in [`kraken`]. Every answer carries the request as sent (never a key,
//! secret or signature) and the raw response, so the executor can audit each attempt.

pub mod cancel;
pub mod kraken;
pub mod paper;
mod paper_fills;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::exchange::kraken::rate_limit::Headroom;
use crate::pairs::{PairInfo, PairTable};
use crate::signal::{CloseOrder, OrderType, Side, TimeInForce};

/// An order ready to be sent: validated, risk-approved, rounded, durably recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    /// Our client order ID, sent as Kraken's `cl_ord_id` (unless `userref` is used).
    pub client_order_id: Uuid,
    /// Sent instead of `cl_ord_id` when the order has a conditional close, which Kraken
    /// does not allow together with `cl_ord_id`.
    pub userref: Option<i32>,
    /// Metadata of the pair, for its name and precision.
    pub pair: PairInfo,
    pub side: Side,
    pub order_type: OrderType,
    /// Base volume, already rounded down to the pair's `lot_decimals`.
    pub volume: Decimal,
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
    pub time_in_force: Option<TimeInForce>,
    pub post_only: bool,
    pub reduce_only: bool,
    pub leverage: Option<String>,
    pub close: Option<CloseOrder>,
    /// After this instant the matching engine must refuse the order (Kraken `deadline`).
    pub deadline: DateTime<Utc>,
}

/// One trade of the account as the exchange's history lists it, by the exchange's
/// order id (the history does not carry our client order ID).
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeTrade {
    /// The exchange's id of the order it belongs to (Kraken `ordertxid`).
    pub order_txid: String,
    /// The trade id (Kraken's trade txid, the executions channel's `exec_id`).
    pub trade_id: String,
    pub volume: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_currency: String,
    pub liquidity: crate::fills::Liquidity,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
impl OrderRequest {
    /// The unit tests' order: a limit buy of 1.25 XBTUSD at 37 500, client order ID
    /// nil, userref 42, deadline 2023-11-14T22:13:30.123Z, no flags and no close.
    pub(crate) fn example() -> Self {
        use chrono::TimeZone;
        OrderRequest {
            client_order_id: Uuid::nil(),
            userref: Some(42),
            pair: PairTable::snapshot().get("XBTUSD").unwrap().clone(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            volume: Decimal::new(125, 2),
            price: Some(Decimal::new(37_500, 0)),
            price2: None,
            time_in_force: None,
            post_only: false,
            reduce_only: false,
            leverage: None,
            close: None,
            deadline: Utc.timestamp_millis_opt(1_700_000_010_123).unwrap(),
        }
    }
}

/// What one `AddOrder` attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The exchange accepted the order and returned its txid.
    Placed { txid: String },
    /// Validate mode: the exchange accepted the order as valid; nothing was placed.
    Validated,
    /// The exchange definitively refused the order (final: `failed`).
    Refused { error: String },
    /// The exchange refused it because its deadline had passed (final: `expired`).
    DeadlineElapsed { error: String },
    /// Refused before reaching the matching engine (rate limit, nonce): safe to retry
    /// with a fresh nonce while the deadline allows, after `retry_after` if given.
    RetryLater {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Provably never left this process (e.g. connection refused): safe to retry.
    NotSent { reason: String },
    /// It may or may not have been placed: settle by lookup, never by resending.
    Ambiguous { reason: String },
}

/// One attempt, with what an audit event needs.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The request as sent, without key, secret, signature or nonce-bearing headers.
    pub request: serde_json::Value,
    /// The exchange's raw answer, if one arrived.
    pub response: Option<String>,
    /// Wall time of the attempt.
    pub elapsed: Duration,
    pub outcome: AttemptOutcome,
}

/// What looking an order up by its client order ID (or userref) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutcome {
    /// The exchange knows the order.
    Found { txid: String, state: String },
    /// Neither open nor closed orders contain it.
    NotFound,
    /// The lookup settled nothing; try again later. The order stays `unknown`.
    ///
    /// This includes lookups that found *several* orders that could be ours (a shared
    /// `userref`): their reason starts with
    /// [`kraken::lookup::AMBIGUOUS`] and names the candidates. No txid may be adopted
    /// from such a lookup.
    Failed { reason: String },
}

/// One lookup, with what an audit event needs.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub request: serde_json::Value,
    pub response: Option<String>,
    pub outcome: LookupOutcome,
}

/// The exchange's clock compared with ours, as last measured.
///
/// The executor uses it to judge whether "not found after the deadline" can be
/// trusted: the deadline sent to the exchange is already translated to the exchange's
/// clock (the engine refuses at the instant we meant), so what is left to cover is
/// [`ClockOffset::worst_case`] error plus drift since [`ClockOffset::measured_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset {
    /// Exchange clock minus ours: positive when the exchange's clock is ahead.
    pub offset: chrono::Duration,
    /// Half-width of the interval the true offset lies in (Kraken's `Time` has
    /// whole seconds only, so this is up to half a second plus half a round trip).
    pub uncertainty: chrono::Duration,
    /// When it was measured, on our clock.
    pub measured_at: DateTime<Utc>,
}

impl ClockOffset {
    /// The largest difference between the two clocks consistent with the
    /// measurement: `|offset| + uncertainty`. Compare this with a grace period.
    pub fn worst_case(&self) -> chrono::Duration {
        self.offset.abs() + self.uncertainty
    }

    /// Our instant `at` as the exchange's clock shows it (saturating at the ends of
    /// the representable range: the offset comes from the exchange's answer).
    pub fn to_exchange(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_add_signed(self.offset)
            .unwrap_or(if self.offset < chrono::Duration::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }
}

/// A failed market-data or account query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExchangeError(pub String);

/// A trading venue as the executor and the risk engine see it.
#[async_trait]
pub trait Exchange: Send + Sync + 'static {
    /// Sends one `AddOrder` (one nonce, no retry) and classifies the answer.
    async fn add_order(&self, order: &OrderRequest) -> Attempt;

    /// Looks the order up by `cl_ord_id` (or `userref`) in open, then closed orders.
    async fn find_order(&self, order: &OrderRequest) -> Lookup;

    /// The last traded price of a pair (public `Ticker`).
    async fn last_price(&self, pair: &PairInfo) -> Result<Decimal, ExchangeError>;

    /// Account balances by Kraken asset id (`XXBT`), as `Balance` reports them.
    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError>;

    /// The exchange's state of these orders by txid (Kraken `QueryOrders`: `open`,
    /// `closed`, `canceled`, `expired`, ...), for settling what a disconnected feed
    /// missed; the default knows none.
    async fn order_states(
        &self,
        txids: &[String],
    ) -> Result<HashMap<String, String>, ExchangeError> {
        let _ = txids;
        Ok(HashMap::new())
    }

    /// The account's trades after `since`, newest first (Kraken: REST
    /// `TradesHistory`), for filling what a long disconnection of the executions feed
    /// missed beyond its snapshot; the default knows none.
    async fn trades_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<ExchangeTrade>, ExchangeError> {
        let _ = since;
        Ok(Vec::new())
    }

    /// Cancels an open order (`CancelOrder`); the default cannot.
    async fn cancel_order(&self, order: &cancel::CancelRequest) -> cancel::CancelAttempt {
        cancel::CancelAttempt::unsupported(order)
    }

    /// The stream of what happens to our orders on this exchange (fills, completions,
    /// cancels), for the fill recorder;
    /// `None` when it reports none (or the stream was taken already).
    fn take_fills(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::fills::ExecutionEvent>> {
        None
    }

    /// The balances available for trading by Kraken asset id: what is not held by
    /// open orders (Kraken `BalanceEx`). Percent sizing reads these. The default, for
    /// a venue without holds (the paper trader), is [`Exchange::balances`].
    async fn available_balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        self.balances().await
    }

    /// Current pair metadata (public `AssetPairs`).
    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError>;

    /// How much of the venue's rate limits is left, as this client models them; read
    /// at each `/metrics` scrape, so it must be cheap. `None` (the default) for a venue
    /// without such a model, like the paper trader.
    fn rate_limit_headroom(&self) -> Option<Headroom> {
        None
    }

    /// The exchange's clock against ours, measured at start-up and every few minutes;
    /// cheap (no I/O), so it can be read before every send and by `/readyz`.
    ///
    /// `None` (the default, and the paper trader's answer) means there is no
    /// measurement: not yet (the first one takes one round trip after start-up) or
    /// never succeeded. Deadlines are then sent on our clock, uncorrected.
    ///
    /// Suggested use: refuse to send while `worst_case()` exceeds the grace given to
    /// "not found after the deadline" (and say so in `/readyz`); a value whose
    /// `measured_at` is much older than the re-measuring period means the exchange's
    /// `Time` has been failing since.
    fn clock_offset(&self) -> Option<ClockOffset> {
        None
    }
}
