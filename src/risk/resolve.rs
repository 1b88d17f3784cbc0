//! Turning a signal into the exact order the rules judge: the base volume (a
//! `quote_volume` converted with a price), prices rounded to the pair's precision, and
//! the price used to value the order.
//!
//! Rounding always favours the account: a volume is rounded *down* (never buy or sell
//! more than asked), a buy price down and a sell price up (never pay more, never sell
//! for less than the signal allowed).

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use super::view::MarketView;
use super::Reason;
use crate::config::RiskConfig;
use crate::pairs::PairInfo;
use crate::signal::{Amount, CloseOrder, OrderType, Side, Signal};

/// Rule name for a volume or price that rounds away to nothing.
pub const PRECISION: &str = "precision";
/// Rule name for a `quote_volume` that cannot be converted for want of a price.
pub const QUOTE_VOLUME: &str = "quote_volume";
/// A ticker price older than this (fetched, then waited for the write lock) is not
/// used: trading on a stale price is worse than refusing.
pub const MAX_PRICE_AGE_SECS: i64 = 30;
/// Decimal can carry at most 28 fractional digits.
const MAX_SCALE: u32 = 28;

/// Why an order has no notional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoNotional {
    /// The volume itself is unknown; another reason already says why.
    VolumeUnknown,
    /// No price to multiply it with: the text says why.
    NoPrice(String),
}

/// The order as the rules judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Base volume rounded down to `lot_decimals`; `None` when it cannot be known.
    pub volume: Option<Decimal>,
    /// `price`, rounded to the pair's precision in the account's favour.
    pub price: Option<Decimal>,
    /// `price2`, rounded likewise.
    pub price2: Option<Decimal>,
    /// The conditional close with its prices rounded (it trades the other side).
    pub close: Option<CloseOrder>,
    /// A fresh ticker price, or why there is none.
    pub ticker: Result<Decimal, String>,
    /// Volume × the price the order is expected to trade at, in quote currency.
    pub notional: Result<Decimal, NoNotional>,
}

/// Rounds a volume down to `lot_decimals` places. Never rounds up.
pub fn round_volume_down(volume: Decimal, lot_decimals: u32) -> Decimal {
    volume
        .round_dp_with_strategy(lot_decimals.min(MAX_SCALE), RoundingStrategy::ToZero)
        .normalize()
}

/// Rounds a price to the pair's `pair_decimals` and `tick_size`: down for a buy, up for
/// a sell.
pub fn round_price(price: Decimal, pair: &PairInfo, side: Side) -> Decimal {
    let strategy = match side {
        Side::Buy => RoundingStrategy::ToZero,
        Side::Sell => RoundingStrategy::AwayFromZero,
    };
    let mut rounded = price.round_dp_with_strategy(pair.pair_decimals.min(MAX_SCALE), strategy);
    if let Some(tick) = pair.tick_size.filter(|t| *t > Decimal::ZERO) {
        if let Some(ticks) = rounded.checked_div(tick) {
            let ticks = match side {
                Side::Buy => ticks.floor(),
                Side::Sell => ticks.ceil(),
            };
            rounded = ticks.checked_mul(tick).unwrap_or(rounded);
        }
    }
    rounded.normalize()
}

/// The base volume that `quote` buys at `price`, rounded down to `lot_decimals`, such
/// that volume × price never exceeds `quote`. `None` for a non-positive price or on
/// overflow.
pub fn quote_to_volume(quote: Decimal, price: Decimal, lot_decimals: u32) -> Option<Decimal> {
    if price <= Decimal::ZERO || quote <= Decimal::ZERO {
        return None;
    }
    let lot = lot_decimals.min(MAX_SCALE);
    let mut volume = round_volume_down(quote.checked_div(price)?, lot);
    // Decimal division rounds its 28th digit, possibly up across a lot boundary: step
    // back one lot if the product overshoots.
    if volume.checked_mul(price)? > quote {
        volume = (volume - Decimal::try_new(1, lot).ok()?).max(Decimal::ZERO);
    }
    Some(volume.normalize())
}

/// A signal's prices rounded to its pair's precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundedPrices {
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
    /// The conditional close; it trades the other side, so it rounds the other way.
    pub close: Option<CloseOrder>,
}

/// Rounds every price of `signal` for `pair`, exactly as [`resolve`] does. Pure and
/// deterministic: the executor may call it to rebuild the approved prices from the
/// stored signal when it builds the exchange request.
pub fn round_prices(signal: &Signal, pair: &PairInfo) -> RoundedPrices {
    rounded_prices(signal, pair, &mut Vec::new())
}

fn rounded_prices(signal: &Signal, pair: &PairInfo, reasons: &mut Vec<Reason>) -> RoundedPrices {
    let mut rounded = |name: &str, value: Option<Decimal>, side: Side| {
        let value = value?;
        let r = round_price(value, pair, side);
        if r <= Decimal::ZERO {
            reasons.push(Reason::new(
                PRECISION,
                format!("{name} {value} rounds to 0 at the pair's precision"),
            ));
        }
        Some(r)
    };
    let side = signal.side;
    let close_side = match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    };
    RoundedPrices {
        price: rounded("price", signal.price, side),
        price2: rounded("price2", signal.price2, side),
        close: signal.close.as_ref().map(|c| CloseOrder {
            order_type: c.order_type,
            price: rounded("close.price", c.price, close_side),
            price2: rounded("close.price2", c.price2, close_side),
        }),
    }
}

/// A fresh ticker price, or why there is none.
fn ticker(market: &MarketView, now: DateTime<Utc>) -> Result<Decimal, String> {
    match (&market.price, &market.price_error) {
        (Some(quote), _) => {
            let age = (now - quote.at).num_seconds();
            if age > MAX_PRICE_AGE_SECS {
                Err(format!("the last ticker price is {age} s old"))
            } else {
                Ok(quote.price)
            }
        }
        (None, Some(why)) => Err(format!("no ticker price ({why})")),
        (None, None) => Err("no ticker price".to_owned()),
    }
}

/// The price a market order is valued at: the ticker, else the signal's
/// `reference_price` when the operator trusts it.
fn market_price(
    config: &RiskConfig,
    signal: &Signal,
    ticker: &Result<Decimal, String>,
) -> Result<Decimal, String> {
    match (ticker, signal.reference_price) {
        (Ok(price), _) => Ok(*price),
        (Err(_), Some(reference)) if config.trust_reference_price => Ok(reference),
        (Err(why), Some(_)) => Err(format!(
            "{why}, and reference_price is not trusted (risk.trust_reference_price = false)"
        )),
        (Err(why), None) => Err(format!("{why}, and the signal has no reference_price")),
    }
}

/// Resolves the signal against the pair; reasons found on the way (a price or volume
/// that rounds to zero, a quote amount with no price) are pushed to `reasons`.
pub fn resolve(
    config: &RiskConfig,
    signal: &Signal,
    market: &MarketView,
    now: DateTime<Utc>,
    reasons: &mut Vec<Reason>,
) -> Resolved {
    let ticker = ticker(market, now);
    let Some(pair) = &market.pair else {
        // The pair rule reports the unknown pair; nothing can be rounded without it.
        return Resolved {
            volume: None,
            price: signal.price,
            price2: signal.price2,
            close: signal.close.clone(),
            ticker,
            notional: Err(NoNotional::VolumeUnknown),
        };
    };
    let RoundedPrices {
        price,
        price2,
        close,
    } = rounded_prices(signal, pair, reasons);
    // The price the order is expected to trade at: the limit price where there is one,
    // the trigger price of a stop/take-profit market order, the market otherwise.
    let trade_price = match signal.order_type {
        OrderType::Market => market_price(config, signal, &ticker),
        OrderType::Limit | OrderType::StopLoss | OrderType::TakeProfit => {
            price.ok_or_else(|| "the order has no price".to_owned())
        }
        OrderType::StopLossLimit | OrderType::TakeProfitLimit => {
            price2.ok_or_else(|| "the order has no price2".to_owned())
        }
    };
    let volume = match signal.amount {
        Amount::Base(volume) => Some(round_volume_down(volume, pair.lot_decimals)),
        Amount::Quote(quote) => match &trade_price {
            Ok(p) => {
                let volume = quote_to_volume(quote, *p, pair.lot_decimals);
                if volume.is_none() {
                    reasons.push(Reason::new(
                        QUOTE_VOLUME,
                        format!("cannot convert quote_volume {quote} at a price of {p}"),
                    ));
                }
                volume
            }
            Err(why) => {
                reasons.push(Reason::new(
                    QUOTE_VOLUME,
                    format!("cannot convert quote_volume {quote} to a volume: {why}"),
                ));
                None
            }
        },
    };
    if let Some(v) = volume.filter(|v| v.is_zero()) {
        reasons.push(Reason::new(
            PRECISION,
            format!(
                "volume rounds down to {v} at {} lot decimals",
                pair.lot_decimals
            ),
        ));
    }
    let notional = match (volume, &trade_price) {
        (None, _) => Err(NoNotional::VolumeUnknown),
        (Some(v), Ok(p)) => v
            .checked_mul(*p)
            .map(|n| n.normalize())
            .ok_or_else(|| NoNotional::NoPrice("volume × price overflows".to_owned())),
        (Some(_), Err(why)) => Err(NoNotional::NoPrice(why.clone())),
    };
    Resolved {
        volume,
        price,
        price2,
        close,
        ticker,
        notional,
    }
}
