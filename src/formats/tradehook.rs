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
    pub order_type: OrderType,
    pub price: Option<DecimalInput>,
    pub price2: Option<DecimalInput>,
}

/// The signal exactly as it arrives on the wire, before validation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    pub pair: String,
    pub side: Side,
    pub order_type: OrderType,
    pub volume: Option<DecimalInput>,
    pub quote_volume: Option<DecimalInput>,
    pub price: Option<DecimalInput>,
    pub price2: Option<DecimalInput>,
    pub time_in_force: Option<TimeInForce>,
    pub post_only: Option<bool>,
    pub reduce_only: Option<bool>,
    pub leverage: Option<String>,
    pub close: Option<CloseBody>,
    pub client_order_id: Option<Uuid>,
    pub reference_price: Option<DecimalInput>,
    pub signal_time: Option<DateTime<Utc>>,
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
