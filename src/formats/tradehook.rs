//! The native `tradehook` format (SPEC §2): a strict JSON object with exact field
//! names. Unknown fields are refused (a typo must never silently become a default),
//! amounts are exact decimals, and the `passphrase` of token sources is read apart
//! and never kept.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::decimal::DecimalInput;
use super::validate::{native, validate, Draft};
use super::{json, Parsed};
use crate::signal::{FieldError, OrderType, Side, Signal, TimeInForce};

/// The optional conditional close attached to an order (Kraken's `close[...]`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// The close order's type (never market).
    pub order_type: OrderType,
    /// Limit or trigger price, as Kraken's `price`.
    pub price: Option<DecimalInput>,
    /// Limit price of a triggered limit order, as Kraken's `price2`.
    pub price2: Option<DecimalInput>,
}

/// The signal exactly as it arrives on the wire, before validation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    /// The pair as the signal wrote it (resolved later through the pair table).
    pub pair: String,
    /// Buy or sell.
    pub side: Side,
    /// Kraken's order type.
    pub order_type: OrderType,
    /// Base-currency amount.
    pub volume: Option<DecimalInput>,
    /// Quote-currency amount, converted with a price before sending.
    pub quote_volume: Option<DecimalInput>,
    /// Limit or trigger price, as Kraken's `price`.
    pub price: Option<DecimalInput>,
    /// Limit price of a triggered limit order, as Kraken's `price2`.
    pub price2: Option<DecimalInput>,
    /// `GTC` or `IOC`.
    pub time_in_force: Option<TimeInForce>,
    /// Only for limit orders: never take liquidity.
    pub post_only: Option<bool>,
    /// Only reduce a position.
    pub reduce_only: Option<bool>,
    /// Margin leverage (`"2"` or `"2:1"`), refused unless risk allows leverage.
    pub leverage: Option<String>,
    /// The conditional close.
    pub close: Option<CloseBody>,
    /// The caller's idempotency key.
    pub client_order_id: Option<Uuid>,
    /// The price the signal saw (price band and notional of market orders).
    pub reference_price: Option<DecimalInput>,
    /// When the signal was made, for the staleness rule.
    pub signal_time: Option<DateTime<Utc>>,
    /// Free tag kept for audit and metrics.
    pub strategy: Option<String>,
    /// Only for `token` sources; checked by ingress and never stored.
    pub passphrase: Option<String>,
}

fn value(input: Option<DecimalInput>) -> Option<rust_decimal::Decimal> {
    input.map(|DecimalInput(d)| d)
}

/// Parses and validates a native body.
pub fn parse(body: &[u8]) -> Result<Parsed, FieldError> {
    let raw: SignalBody = json::object(body)?;
    let secret = raw.passphrase.clone();
    let mut draft = Draft::new(raw.pair, raw.side, raw.order_type);
    draft.volume = value(raw.volume);
    draft.quote_volume = value(raw.quote_volume);
    draft.price = value(raw.price);
    draft.price2 = value(raw.price2);
    draft.time_in_force = raw.time_in_force;
    draft.post_only = raw.post_only;
    draft.reduce_only = raw.reduce_only;
    draft.leverage = raw.leverage;
    draft.close = raw
        .close
        .map(|c| (c.order_type, value(c.price), value(c.price2)));
    draft.client_order_id = raw.client_order_id;
    draft.reference_price = value(raw.reference_price);
    draft.signal_time = raw.signal_time;
    draft.strategy = raw.strategy;
    Ok(Parsed {
        signal: validate(draft, native)?,
        secret,
        idempotency_key: None,
    })
}

/// Parses and validates a native body. Returns the signal and the passphrase, if any.
pub fn parse_signal(body: &[u8]) -> Result<(Signal, Option<String>), FieldError> {
    parse(body).map(|parsed| (parsed.signal, parsed.secret))
}

#[cfg(test)]
#[path = "tradehook_tests.rs"]
mod tests;
