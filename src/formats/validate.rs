//! The one validation every format ends in: a [`Draft`] (what an adapter read from its
//! platform's shape) becomes a [`Signal`], every field well-formed and consistent with
//! its order type. Errors name the field as the format calls it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::pairs;
use super::text::free_text_problem;
use crate::signal::{Amount, CloseOrder, FieldError, OrderType, Side, Signal, TimeInForce};

/// Largest amount or price we accept at all: far above any real order, small enough
/// that products of two such values never overflow a `Decimal`.
const ABSURD_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Longest `strategy` tag we store.
pub const MAX_STRATEGY_LEN: usize = 64;

/// Maps a native field name (`volume`) to the format's own (`contracts`).
pub type Names = fn(&'static str) -> &'static str;

/// The native names, unchanged.
pub fn native(name: &'static str) -> &'static str {
    name
}

/// A signal as an adapter read it, before validation.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The pair as the signal wrote it (resolved later through the pair table).
    pub pair: String,
    /// Buy or sell.
    pub side: Side,
    /// Kraken's order type.
    pub order_type: OrderType,
    /// Base-currency amount.
    pub volume: Option<Decimal>,
    /// Quote-currency amount, converted with a price before sending.
    pub quote_volume: Option<Decimal>,
    /// Limit or trigger price, as Kraken's `price`.
    pub price: Option<Decimal>,
    /// Limit price of a triggered limit order, as Kraken's `price2`.
    pub price2: Option<Decimal>,
    /// `GTC` or `IOC`.
    pub time_in_force: Option<TimeInForce>,
    /// Only for limit orders: never take liquidity.
    pub post_only: Option<bool>,
    /// Only reduce a position.
    pub reduce_only: Option<bool>,
    /// Margin leverage (`"2"` or `"2:1"`), refused unless risk allows leverage.
    pub leverage: Option<String>,
    /// The conditional close: its type and prices.
    pub close: Option<(OrderType, Option<Decimal>, Option<Decimal>)>,
    /// The caller's idempotency key.
    pub client_order_id: Option<Uuid>,
    /// The price the signal saw (price band and notional of market orders).
    pub reference_price: Option<Decimal>,
    /// When the signal was made, for the staleness rule.
    pub signal_time: Option<DateTime<Utc>>,
    /// Free tag kept for audit and metrics.
    pub strategy: Option<String>,
    /// Largest age of this signal in seconds (3Commas `max_lag`).
    pub max_age_secs: Option<u64>,
    /// Size as a percentage of the available balance, instead of an amount.
    pub percent: Option<Decimal>,
    /// The format name, unless native.
    pub format: Option<String>,
    /// The platform payload minus its secret, for the audit record.
    pub payload: Option<serde_json::Value>,
}

impl Draft {
    /// A draft with only the required parts; everything else unset.
    pub fn new(pair: String, side: Side, order_type: OrderType) -> Self {
        Draft {
            pair,
            side,
            order_type,
            volume: None,
            quote_volume: None,
            price: None,
            price2: None,
            time_in_force: None,
            post_only: None,
            reduce_only: None,
            leverage: None,
            close: None,
            client_order_id: None,
            reference_price: None,
            signal_time: None,
            strategy: None,
            max_age_secs: None,
            percent: None,
            format: None,
            payload: None,
        }
    }
}

fn positive(field: &str, value: Option<Decimal>) -> Result<Option<Decimal>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value <= Decimal::ZERO {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    if value > ABSURD_AMOUNT {
        return Err(FieldError::new(
            field,
            format!("{value} is implausibly large (limit {ABSURD_AMOUNT})"),
        ));
    }
    Ok(Some(value))
}

fn validate_prices(
    names: Names,
    prefix: &str,
    order_type: OrderType,
    price: Option<Decimal>,
    price2: Option<Decimal>,
) -> Result<(), FieldError> {
    let field = |name: &'static str| format!("{prefix}{}", names(name));
    let problem = match (price.is_some(), price2.is_some()) {
        (false, _) if order_type.needs_price() => Some(("price", "required for a", true)),
        (true, _) if !order_type.needs_price() => Some(("price", "not allowed on a", false)),
        (_, false) if order_type.needs_price2() => Some(("price2", "required for a", true)),
        (_, true) if !order_type.needs_price2() => Some(("price2", "not allowed on a", false)),
        _ => None,
    };
    match problem {
        Some((name, what, _)) => Err(FieldError::new(
            &field(name),
            format!("{what} {order_type} order"),
        )),
        None => Ok(()),
    }
}

/// Validates `draft`, naming fields through `names`.
pub fn validate(draft: Draft, names: Names) -> Result<Signal, FieldError> {
    let pair = pairs::canonical(&draft.pair).map_err(|m| FieldError::new(names("pair"), m))?;
    let pair_sent = (pair != draft.pair).then(|| draft.pair.clone());
    let volume = positive(names("volume"), draft.volume)?;
    let quote_volume = positive(names("quote_volume"), draft.quote_volume)?;
    let percent = match draft.percent {
        Some(p) if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED => {
            return Err(FieldError::new(
                names("percent"),
                "must be greater than 0 and at most 100",
            ))
        }
        other => other,
    };
    let amount = match (volume, quote_volume, percent) {
        (Some(v), None, None) => Amount::Base(v),
        (None, Some(q), None) => Amount::Quote(q),
        // Computed from the balance when received (see `Signal::percent`).
        (None, None, Some(_)) => Amount::Base(Decimal::ZERO),
        (None, None, None) => {
            return Err(FieldError::new(
                names("volume"),
                format!(
                    "one of `{}` or `{}` is required",
                    names("volume"),
                    names("quote_volume")
                ),
            ))
        }
        _ => {
            return Err(FieldError::new(
                names("volume"),
                format!(
                    "give exactly one size (`{}`, `{}` or a percentage), not several",
                    names("volume"),
                    names("quote_volume"),
                ),
            ))
        }
    };
    let price = positive(names("price"), draft.price)?;
    let price2 = positive(names("price2"), draft.price2)?;
    validate_prices(names, "", draft.order_type, price, price2)?;
    let close = match draft.close {
        None => None,
        Some((order_type, price, price2)) => {
            let price = positive("close.price", price)?;
            let price2 = positive("close.price2", price2)?;
            if order_type == OrderType::Market {
                return Err(FieldError::new(
                    "close.order_type",
                    "a conditional close cannot be a market order",
                ));
            }
            validate_prices(native, "close.", order_type, price, price2)?;
            Some(CloseOrder {
                order_type,
                price,
                price2,
            })
        }
    };
    if draft.time_in_force == Some(TimeInForce::Gtd) {
        return Err(FieldError::new(
            "time_in_force",
            "GTD needs an expiry time, which signals cannot carry; use GTC or IOC",
        ));
    }
    if draft.post_only == Some(true) && draft.order_type != OrderType::Limit {
        return Err(FieldError::new(
            "post_only",
            "only a limit order can be post-only",
        ));
    }
    let leverage = match draft.leverage {
        None => None,
        Some(l) if valid_leverage(&l) => Some(l),
        Some(l) => {
            return Err(FieldError::new(
                "leverage",
                format!(
                    "`{}` is not a leverage such as \"2\" or \"2:1\"",
                    l.escape_debug()
                ),
            ))
        }
    };
    if let Some(problem) = draft
        .strategy
        .as_deref()
        .and_then(|s| free_text_problem(s, MAX_STRATEGY_LEN))
    {
        return Err(FieldError::new(names("strategy"), problem));
    }
    Ok(Signal {
        pair,
        side: draft.side,
        order_type: draft.order_type,
        amount,
        price,
        price2,
        time_in_force: draft.time_in_force,
        post_only: draft.post_only.unwrap_or(false),
        reduce_only: draft.reduce_only.unwrap_or(false),
        leverage,
        close,
        client_order_id: draft.client_order_id,
        reference_price: positive(names("reference_price"), draft.reference_price)?,
        signal_time: draft.signal_time,
        strategy: draft.strategy,
        pair_sent,
        max_age_secs: draft.max_age_secs,
        percent,
        format: draft.format,
        payload: draft.payload,
    })
}

fn valid_leverage(text: &str) -> bool {
    let number = text.strip_suffix(":1").unwrap_or(text);
    matches!(number.parse::<u8>(), Ok(n) if (2..=100).contains(&n))
}
