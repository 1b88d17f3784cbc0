//! Execution truth: what the exchange says happened to an order after it was placed.
//!
//! A fill ([`FillReport`]) reaches storage as a writer command, decided in memory by the
//! writer (a trade id already recorded is a duplicate and changes nothing) and written
//! with the rest of its batch: the `fills` row, the order's totals
//! ([`Execution`]), its status (`partially_filled` or `filled`) and an audit event.
//! Fills come from the paper trader ([`crate::exchange::paper`]) and, with Kraken, from
//! its executions feed; [`recorder`] carries them from the exchange to the writer.
//! After each (re)subscription [`gap_fill`] adds what the exchange's trade history
//! holds beyond the feed's snapshot.

pub mod cancel;
pub mod gap_fill;
pub mod positions;
pub mod recorder;
pub(crate) mod sql;
pub mod stats;
pub mod totals;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use totals::Execution;

/// Whether a fill added liquidity to the book or took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Liquidity {
    /// The order rested on the book and was hit.
    Maker,
    /// The order traded against the book at once.
    Taker,
}

impl Liquidity {
    /// The name stored in `fills.liquidity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Liquidity::Maker => "maker",
            Liquidity::Taker => "taker",
        }
    }
}

/// One trade of one of our orders, as the exchange reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FillReport {
    /// The order it belongs to (Kraken's `cl_ord_id`).
    pub client_order_id: Uuid,
    /// The exchange's trade id: a fill is recorded once per trade id.
    pub trade_id: String,
    /// Base volume traded.
    #[serde(with = "rust_decimal::serde::str")]
    pub volume: Decimal,
    /// Price per unit of base, in quote currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    /// The fee charged for this trade.
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
    /// The asset the fee was charged in.
    pub fee_currency: String,
    pub liquidity: Liquidity,
    /// When the exchange says it traded.
    pub at: DateTime<Utc>,
    /// The exchange says this trade completed the order (Kraken: `exec_type: filled`).
    /// Without it the order is `filled` only once the volume is reached.
    pub completes: bool,
}

impl FillReport {
    /// Quote value traded, fees excluded.
    pub fn cost(&self) -> Decimal {
        self.volume.saturating_mul(self.price)
    }
}

/// Something the exchange reports about one of our orders after it was placed.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionEvent {
    /// A trade.
    Fill(FillReport),
    /// The order is complete (Kraken: `exec_type: filled`); `detail` is for the event.
    Completed {
        client_order_id: Uuid,
        detail: String,
    },
    /// The exchange cancelled the order, or its IOC/GTD remainder expired; `cause`
    /// says which, for the event.
    Canceled {
        client_order_id: Uuid,
        cause: String,
    },
    /// The feed (re)subscribed and its snapshot is through: settle orders still open
    /// here whose completion or cancel may have been missed while disconnected
    /// ([`recorder`] asks the exchange for their state).
    Resynced,
}

/// What the writer did with a fill.
#[derive(Debug, Clone)]
pub enum FillOutcome {
    /// Recorded; the order as it now stands.
    Recorded(Box<crate::store::orders::OrderRecord>),
    /// This trade id was recorded before; nothing changed.
    Duplicate,
}
