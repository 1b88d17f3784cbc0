//! The validated trading signal: the domain [`Signal`] the rest of the pipeline works
//! with, and the names it is made of (sides, order types, time in force).
//!
//! Reading a body into a `Signal` is the job of [`crate::formats`]: one adapter per
//! platform format, all ending in one shared validation. The native parser is
//! re-exported here under its old names.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::formats::decimal::{parse_decimal, DecimalInput};
pub use crate::formats::pairs::normalize_pair;
pub use crate::formats::tradehook::{parse_signal, CloseBody, SignalBody};

/// Buy or sell, as Kraken's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

/// Kraken order types this service can place, as Kraken's `ordertype`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum OrderType {
    Market,
    Limit,
    StopLoss,
    TakeProfit,
    StopLossLimit,
    TakeProfitLimit,
}

impl OrderType {
    /// The wire name, identical to Kraken's `ordertype` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::StopLoss => "stop-loss",
            OrderType::TakeProfit => "take-profit",
            OrderType::StopLossLimit => "stop-loss-limit",
            OrderType::TakeProfitLimit => "take-profit-limit",
        }
    }

    /// Whether Kraken needs `price` for this type (the trigger or limit price).
    pub fn needs_price(self) -> bool {
        self != OrderType::Market
    }

    /// Whether Kraken needs `price2` (the limit price of a triggered limit order).
    pub fn needs_price2(self) -> bool {
        matches!(self, OrderType::StopLossLimit | OrderType::TakeProfitLimit)
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown order type `{s}`"))
    }
}

impl Side {
    /// The wire name, identical to Kraken's `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Kraken's `timeinforce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum TimeInForce {
    #[serde(rename = "GTC")]
    Gtc,
    #[serde(rename = "IOC")]
    Ioc,
    #[serde(rename = "GTD")]
    Gtd,
}

impl TimeInForce {
    /// The wire name, identical to Kraken's value.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Gtd => "GTD",
        }
    }
}

/// How much to trade: a base amount, or an amount of quote currency to spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// `volume`: base-currency amount.
    Base(Decimal),
    /// `quote_volume`: quote-currency amount, converted with a price before sending.
    Quote(Decimal),
}

/// A validated conditional close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CloseOrder {
    pub order_type: OrderType,
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
}

/// A validated signal: every field well-formed and consistent with its order type.
///
/// This is what is hashed for idempotency and stored with the order, so it carries no
/// secret (the passphrase is dropped during validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    /// The Kraken altname the signal's pair resolved to (`BTC/USD` → `XBTUSD`); when
    /// unknown to the pair table, the name as sent, upper-cased without separators.
    pub pair: String,
    pub side: Side,
    pub order_type: OrderType,
    pub amount: Amount,
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
    pub time_in_force: Option<TimeInForce>,
    pub post_only: bool,
    pub reduce_only: bool,
    pub leverage: Option<String>,
    pub close: Option<CloseOrder>,
    pub client_order_id: Option<Uuid>,
    pub reference_price: Option<Decimal>,
    pub signal_time: Option<DateTime<Utc>>,
    pub strategy: Option<String>,
    /// The pair exactly as the signal wrote it, when that differs from `pair` (which
    /// holds the Kraken altname it resolved to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_sent: Option<String>,
    /// Largest age of this signal in seconds (3Commas `max_lag`), on top of
    /// `risk.max_signal_age_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<u64>,
    /// Sized as this percentage of the available balance (quote for a buy, base for a
    /// sell); `amount` is computed from the balance when the signal is received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Decimal>,
    /// The format the signal arrived in, unless the native `tradehook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The platform's payload as received, minus its secret (formats other than the
    /// native one), for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// A validation failure, naming the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the offending field (`close.price`), or `body` for the whole.
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
