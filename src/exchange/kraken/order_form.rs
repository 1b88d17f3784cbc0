//! The `AddOrder` form for an [`OrderRequest`]: field names, decimal formatting to
//! the pair's precision, and the `cl_ord_id`/`userref` choice.
//!
//! Rounding never makes an order bigger or its price worse than asked: volume is
//! truncated to `lot_decimals`; a limit price is moved onto the tick grid in the
//! trader's favour (buy down, sell up); a trigger price goes to the nearest tick.

use chrono::SecondsFormat;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::exchange::OrderRequest;
use crate::pairs::PairInfo;
use crate::signal::{OrderType, Side};

/// An order this service cannot send as asked; refused locally, nothing sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

/// One form field, in sending order.
pub type Field = (&'static str, String);

/// Which role a price plays, which decides how it is rounded.
#[derive(Clone, Copy)]
enum PriceRole {
    /// A limit price of an order on `side`.
    Limit(Side),
    /// A trigger (stop / take-profit) price.
    Trigger,
}

/// The price step: Kraken's `tick_size`, else one unit of the last price decimal.
/// `None` for a precision no decimal holds (the pair table refuses those already).
fn tick(pair: &PairInfo) -> Option<Decimal> {
    pair.tick_size
        .filter(|t| *t > Decimal::ZERO)
        .or_else(|| Decimal::try_new(1, pair.pair_decimals).ok())
}

/// Formats a price on the pair's tick grid and precision.
fn format_price(
    name: &str,
    price: Decimal,
    pair: &PairInfo,
    role: PriceRole,
) -> Result<String, FormError> {
    // Checked: a price near Decimal's limit over a tiny tick overflows, and a panic
    // here would take the sending task down with the order in flight.
    let overflow = || {
        FormError(format!(
            "{name} {price} cannot be put on the {} tick grid",
            pair.altname
        ))
    };
    let tick = tick(pair).ok_or_else(overflow)?;
    let steps = price.checked_div(tick).ok_or_else(overflow)?;
    let steps = match role {
        PriceRole::Limit(Side::Buy) => steps.floor(),
        PriceRole::Limit(Side::Sell) => steps.ceil(),
        PriceRole::Trigger => {
            steps.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        }
    };
    let rounded = steps
        .checked_mul(tick)
        .ok_or_else(overflow)?
        .round_dp_with_strategy(pair.pair_decimals, RoundingStrategy::ToZero);
    if rounded <= Decimal::ZERO {
        return Err(FormError(format!(
            "{name} {price} is not positive on the {} tick grid",
            pair.altname
        )));
    }
    Ok(rounded.normalize().to_string())
}

/// Formats a volume, truncated (never rounded up) to `lot_decimals`.
fn format_volume(volume: Decimal, pair: &PairInfo) -> Result<String, FormError> {
    let truncated = volume.round_dp_with_strategy(pair.lot_decimals, RoundingStrategy::ToZero);
    if truncated <= Decimal::ZERO {
        return Err(FormError(format!(
            "volume {volume} is zero at {} lot decimals",
            pair.lot_decimals
        )));
    }
    Ok(truncated.normalize().to_string())
}

/// The roles of `price` and `price2` for an order type placed on `side`.
fn roles(order_type: OrderType, side: Side) -> (PriceRole, PriceRole) {
    match order_type {
        OrderType::Limit => (PriceRole::Limit(side), PriceRole::Trigger),
        _ => (PriceRole::Trigger, PriceRole::Limit(side)),
    }
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

/// The `AddOrder` fields (without `nonce`, which the signer puts first).
pub fn add_order_fields(order: &OrderRequest, validate: bool) -> Result<Vec<Field>, FormError> {
    let pair = &order.pair;
    let mut fields: Vec<Field> = vec![
        ("pair", pair.altname.clone()),
        ("type", order.side.as_str().to_owned()),
        ("ordertype", order.order_type.as_str().to_owned()),
        ("volume", format_volume(order.volume, pair)?),
    ];
    let (role1, role2) = roles(order.order_type, order.side);
    if let Some(price) = order.price {
        fields.push(("price", format_price("price", price, pair, role1)?));
    }
    if let Some(price2) = order.price2 {
        fields.push(("price2", format_price("price2", price2, pair, role2)?));
    }
    if order.post_only {
        fields.push(("oflags", "post".to_owned()));
    }
    if let Some(tif) = order.time_in_force {
        fields.push(("timeinforce", tif.as_str().to_owned()));
    }
    if order.reduce_only {
        fields.push(("reduce_only", "true".to_owned()));
    }
    if let Some(leverage) = &order.leverage {
        fields.push(("leverage", leverage.clone()));
    }
    match &order.close {
        Some(close) => {
            let close_side = opposite(order.side);
            let (c1, c2) = roles(close.order_type, close_side);
            fields.push(("close[ordertype]", close.order_type.as_str().to_owned()));
            if let Some(price) = close.price {
                fields.push((
                    "close[price]",
                    format_price("close.price", price, pair, c1)?,
                ));
            }
            if let Some(price2) = close.price2 {
                fields.push((
                    "close[price2]",
                    format_price("close.price2", price2, pair, c2)?,
                ));
            }
            // Kraken refuses cl_ord_id together with a conditional close.
            let userref = order.userref.ok_or_else(|| {
                FormError("an order with a conditional close needs a userref".into())
            })?;
            fields.push(("userref", userref.to_string()));
        }
        None => fields.push(("cl_ord_id", order.client_order_id.to_string())),
    }
    fields.push((
        "deadline",
        order.deadline.to_rfc3339_opts(SecondsFormat::Millis, true),
    ));
    if validate {
        fields.push(("validate", "true".to_owned()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{CloseOrder, TimeInForce};
    use std::str::FromStr;
    use uuid::Uuid;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_limit_order_carries_its_id_and_deadline() {
        let fields = add_order_fields(&OrderRequest::example(), false).unwrap();
        assert_eq!(get(&fields, "pair"), Some("XBTUSD"));
        assert_eq!(get(&fields, "type"), Some("buy"));
        assert_eq!(get(&fields, "ordertype"), Some("limit"));
        assert_eq!(get(&fields, "volume"), Some("1.25"));
        assert_eq!(get(&fields, "price"), Some("37500"));
        assert_eq!(
            get(&fields, "cl_ord_id"),
            Some(Uuid::nil().to_string().as_str())
        );
        assert_eq!(get(&fields, "userref"), None);
        assert_eq!(get(&fields, "deadline"), Some("2023-11-14T22:13:30.123Z"));
        assert_eq!(get(&fields, "validate"), None);
    }

    #[test]
    fn prices_beyond_the_tick_grid_or_precision_are_refused_without_panicking() {
        let mut o = OrderRequest::example();
        o.price = Some(Decimal::MAX);
        o.pair.tick_size = Some(d("0.00000001"));
        assert!(add_order_fields(&o, false).is_err(), "MAX / tick overflows");
        o.pair.tick_size = None;
        o.pair.pair_decimals = 29;
        o.price = Some(d("37500"));
        assert!(add_order_fields(&o, false).is_err(), "no 29-place tick");
    }

    #[test]
    fn volume_is_truncated_never_rounded_up() {
        let mut o = OrderRequest::example();
        o.volume = d("0.123456789");
        let fields = add_order_fields(&o, false).unwrap();
        assert_eq!(get(&fields, "volume"), Some("0.12345678"));
        o.volume = d("0.000000001");
        assert!(add_order_fields(&o, false).is_err());
    }

    #[test]
    fn limit_prices_round_in_the_traders_favour_and_triggers_to_nearest() {
        let mut o = OrderRequest::example();
        o.price = Some(d("37500.37"));
        assert_eq!(
            get(&add_order_fields(&o, false).unwrap(), "price"),
            Some("37500.3")
        );
        o.side = Side::Sell;
        assert_eq!(
            get(&add_order_fields(&o, false).unwrap(), "price"),
            Some("37500.4")
        );
        o.order_type = OrderType::StopLossLimit;
        o.price = Some(d("37500.37"));
        o.price2 = Some(d("37400.01"));
        let fields = add_order_fields(&o, false).unwrap();
        assert_eq!(get(&fields, "price"), Some("37500.4"));
        assert_eq!(get(&fields, "price2"), Some("37400.1"));
    }

    #[test]
    fn a_conditional_close_sends_userref_instead_of_cl_ord_id() {
        let mut o = OrderRequest::example();
        o.close = Some(CloseOrder {
            order_type: OrderType::StopLoss,
            price: Some(d("36000")),
            price2: None,
        });
        let fields = add_order_fields(&o, false).unwrap();
        assert_eq!(get(&fields, "close[ordertype]"), Some("stop-loss"));
        assert_eq!(get(&fields, "close[price]"), Some("36000"));
        assert_eq!(get(&fields, "userref"), Some("42"));
        assert_eq!(get(&fields, "cl_ord_id"), None);
        o.userref = None;
        assert!(add_order_fields(&o, false).is_err());
    }

    #[test]
    fn flags_and_validate_are_sent_when_asked() {
        let mut o = OrderRequest::example();
        o.post_only = true;
        o.reduce_only = true;
        o.leverage = Some("2".into());
        o.time_in_force = Some(TimeInForce::Ioc);
        let fields = add_order_fields(&o, true).unwrap();
        assert_eq!(get(&fields, "oflags"), Some("post"));
        assert_eq!(get(&fields, "reduce_only"), Some("true"));
        assert_eq!(get(&fields, "leverage"), Some("2"));
        assert_eq!(get(&fields, "timeinforce"), Some("IOC"));
        assert_eq!(get(&fields, "validate"), Some("true"));
    }
}
