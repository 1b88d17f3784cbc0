//! The risk engine (SPEC §6): every rule that stands between an authenticated signal
//! and the exchange, as pure functions of values.
//!
//! # How it is used
//!
//! 1. Before the claim, with the network: [`market::MarketData::gather`] returns a
//!    [`MarketView`] (pair metadata, last price, balance; all cached).
//! 2. Inside the store's single writer, in the batch that also records the claim:
//!    [`ledger::RiskLedger::state_for`] gives the [`RiskState`] (kill switch, rolling
//!    windows, daily notional, recent buys) from memory, then [`evaluate`] decides.
//!    The verdict is stored in the same transaction (`pending` or `rejected` with its
//!    reasons) and applied to the ledger at once, so concurrent signals are judged one
//!    after the other against each other's records.
//!
//! [`evaluate`] is synchronous and does no I/O: it can run under the write lock and is
//! tested exhaustively with plain values. It reports *every* failing rule, not just the
//! first, so an operator fixes a signal in one round trip.
//!
//! # Layout
//!
//! - [`view`]: the inputs, [`MarketView`] and [`RiskState`].
//! - [`resolve`]: volume and price rounding, `quote_volume` conversion, valuation.
//! - [`rules`]: one small named rule per file.
//! - [`breaker`]: the circuit breaker's pure decision.
//! - [`market`], [`ledger`], [`control`]: gathering the inputs (the ledger is the
//!   state in memory; `state` is its SQL definition, kept as the tests' oracle); the
//!   kill switch.

pub mod breaker;
pub mod control;
pub mod ledger;
pub mod market;
pub mod resolve;
pub mod rules;
#[cfg(test)]
pub(crate) mod state;
pub mod view;

#[cfg(test)]
mod concurrency_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::{RiskConfig, SourceConfig};
use crate::pairs::PairInfo;
use crate::signal::{CloseOrder, Signal};

pub use breaker::should_trip;
pub use view::{BalanceQuote, Halt, MarketView, PriceQuote, RiskState};

/// Why a rule refused a signal; stored with the `rejected` record and returned in the
/// `422` body as `{"rule": …, "detail": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule's stable name (`pair`, `notional`, …), documented in `docs/risk.md`.
    pub rule: String,
    /// What exactly was wrong, with the numbers, for a human.
    pub detail: String,
}

impl Reason {
    /// A reason from a rule name and its detail.
    pub fn new(rule: &str, detail: impl Into<String>) -> Self {
        Reason {
            rule: rule.to_owned(),
            detail: detail.into(),
        }
    }
}

/// The order exactly as it may be sent: resolved, rounded, valued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovedOrder {
    /// The pair's metadata; store `pair.altname` in `orders.pair` (the rate rules
    /// count by altname, whatever name the signal used).
    pub pair: PairInfo,
    /// Base volume, rounded down to `lot_decimals`; `quote_volume` already converted.
    pub volume: Decimal,
    /// Rounded to `pair_decimals` and `tick_size` (buy down, sell up).
    pub price: Option<Decimal>,
    /// Rounded likewise.
    pub price2: Option<Decimal>,
    /// The conditional close, its prices rounded.
    pub close: Option<CloseOrder>,
    /// Volume × expected price, in quote currency, when a price was known. Store it in
    /// `orders.notional`: the daily-notional rule adds these up.
    pub notional: Option<Decimal>,
}

/// What the risk engine decided. A value, not an error: a refusal is a normal outcome
/// that is recorded like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
// One verdict per signal, moved once: its size does not matter, boxing would only
// make matching on it clumsier.
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    /// Every rule passed.
    Approved(ApprovedOrder),
    /// At least one rule failed; every failing rule is listed.
    Refused { reasons: Vec<Reason> },
}

impl Verdict {
    /// Whether the signal may be sent.
    pub fn is_approved(&self) -> bool {
        matches!(self, Verdict::Approved(_))
    }

    /// The refusal reasons (empty when approved).
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Approved(_) => &[],
            Verdict::Refused { reasons } => reasons,
        }
    }
}

/// Judges `signal` from `source` against every rule.
///
/// Pure and synchronous: call it inside the write transaction, with `now` read *after*
/// the write lock was taken so the rolling windows match the commit order.
pub fn evaluate(
    config: &RiskConfig,
    source: &SourceConfig,
    signal: &Signal,
    market: &MarketView,
    state: &RiskState,
    now: DateTime<Utc>,
) -> Verdict {
    let mut reasons = Vec::new();
    let order = resolve::resolve(config, signal, market, now, &mut reasons);
    let input = rules::Input {
        config,
        source,
        signal,
        market,
        state,
        now,
        order: &order,
    };
    for rule in rules::ALL {
        rule(&input, &mut reasons);
    }
    match (&market.pair, order.volume) {
        (Some(pair), Some(volume)) if reasons.is_empty() => Verdict::Approved(ApprovedOrder {
            pair: pair.clone(),
            volume,
            price: order.price,
            price2: order.price2,
            close: order.close,
            notional: order.notional.ok(),
        }),
        // Unreachable in practice (the pair and quote_volume rules refuse first), but
        // an order without a pair or volume must never be approved.
        (None, _) | (_, None) if reasons.is_empty() => Verdict::Refused {
            reasons: vec![Reason::new(
                rules::pairs::RULE,
                "the order could not be resolved",
            )],
        },
        _ => Verdict::Refused { reasons },
    }
}
