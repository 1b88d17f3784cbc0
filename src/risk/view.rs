//! The two inputs of the risk rules besides the signal and the config, as plain values:
//! [`MarketView`] (gathered from the exchange *before* the claim, because it needs the
//! network) and [`RiskState`] (from the writer's in-memory ledger, *inside* the batch
//! that records the claim, so concurrent signals see each other's accepted orders).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::pairs::PairInfo;

/// A ticker price and when it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PriceQuote {
    /// Kraken's last trade price (`Ticker` field `c[0]`).
    pub price: Decimal,
    /// When this service fetched it (not when the trade happened).
    pub at: DateTime<Utc>,
}

/// The balance of one asset and when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BalanceQuote {
    /// Kraken `Balance` of the asset, or for percent sizing the available balance
    /// from `BalanceEx` (zero when Kraken did not list it).
    pub amount: Decimal,
    /// When this service read the balances; orders since then are not in `amount`.
    pub at: DateTime<Utc>,
}

/// What the exchange told us about the signal's pair, gathered before the transaction.
///
/// Every field may be missing; a missing value is never an error here. The rules that
/// need it refuse (fail closed) and say why, using the `*_error` text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MarketView {
    /// The pair, if the pair table knows the signal's pair name.
    pub pair: Option<PairInfo>,
    /// Altnames of every pair with the same base asset (including this one): the
    /// position rule adds up what this service bought of the asset through any of them.
    pub same_base_pairs: Vec<String>,
    /// The last price, when the ticker answered.
    pub price: Option<PriceQuote>,
    /// Why `price` is missing.
    pub price_error: Option<String>,
    /// The base asset's balance, when it was needed and the exchange answered.
    pub balance: Option<BalanceQuote>,
    /// Why `balance` is missing.
    pub balance_error: Option<String>,
}

/// The kill switch, when it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Halt {
    /// Who or what halted trading and why ("admin: …", "circuit breaker: …").
    pub reason: String,
    /// When it was switched on.
    pub since: DateTime<Utc>,
}

/// The risk state one signal is judged against, as the store's writer holds it in
/// memory ([`crate::risk::ledger::RiskLedger`]), loaded from and kept equal to the
/// database, so it survives restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RiskState {
    /// `Some` while the kill switch is on.
    pub halt: Option<Halt>,
    /// Accepted orders (any status but `rejected`) created in the last rolling 60 s.
    pub orders_last_minute: u32,
    /// The same, for the signal's pair only.
    pub pair_orders_last_minute: u32,
    /// The same, for the signal's source only.
    pub source_orders_last_minute: u32,
    /// Notional of today's (UTC) orders that may trade: every status except
    /// `rejected`, `failed` and `expired`.
    pub daily_notional: Decimal,
    /// Base amount this service bought of the pair's base asset that the balance read
    /// may not reflect yet (see [`crate::risk::ledger`] for exactly which orders count).
    pub bought_since_balance: Decimal,
}
