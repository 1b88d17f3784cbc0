//! Price band: a limit price (the limit `price2` of a stop-loss-limit or
//! take-profit-limit), or the `reference_price` of a market order, may be at most
//! `risk.price_band_pct` percent from Kraken's last ticker price. It catches a
//! fat-fingered price and a signal that saw a different market. Stop and take-profit
//! trigger prices are meant to be away from the market and are not checked.
//!
//! With a price to check and no fresh ticker, the order is refused.

use rust_decimal::Decimal;

use super::Input;
use crate::risk::Reason;
use crate::signal::OrderType;

/// This rule's name in refusals.
pub const RULE: &str = "price_band";

/// Refuses a price too far from the ticker, or when there is no ticker to compare with.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let Some(pct) = input.config.price_band_pct else {
        return;
    };
    let order = input.order;
    let (name, price) = match input.signal.order_type {
        OrderType::Market => ("reference_price", input.signal.reference_price),
        OrderType::Limit => ("price", order.price),
        OrderType::StopLossLimit | OrderType::TakeProfitLimit => ("price2", order.price2),
        OrderType::StopLoss | OrderType::TakeProfit => return,
    };
    let Some(price) = price else {
        return;
    };
    let ticker = match &order.ticker {
        Ok(ticker) => *ticker,
        Err(why) => {
            out.push(Reason::new(
                RULE,
                format!("cannot compare {name} {price} with the market: {why}"),
            ));
            return;
        }
    };
    // |price − ticker| / ticker > pct / 100, without dividing.
    let distance = (price - ticker).abs().checked_mul(Decimal::ONE_HUNDRED);
    let allowed = pct.checked_mul(ticker);
    let outside = match (distance, allowed) {
        (Some(distance), Some(allowed)) => distance > allowed,
        _ => true,
    };
    if outside {
        out.push(Reason::new(
            RULE,
            format!("{name} {price} is more than {pct} % from the last price {ticker}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, dec, signal, Case};
    use serde_json::json;

    #[test]
    fn prices_at_the_band_edge_pass_and_beyond_it_are_refused() {
        // Ticker 50000; a 2 % band is 49000..=51000.
        let cases: &[Case] = &[
            (
                "no band",
                |s| s.signal = signal(json!({"reference_price": "1"})),
                false,
            ),
            (
                "a market order without a reference price",
                |s| s.config.price_band_pct = Some(dec("2")),
                false,
            ),
            (
                "a reference price at the upper edge",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"reference_price": "51000"}));
                },
                false,
            ),
            (
                "a reference price just above the edge",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"reference_price": "51000.01"}));
                },
                true,
            ),
            (
                "a limit price at the lower edge",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"order_type": "limit", "price": "49000"}));
                },
                false,
            ),
            (
                "a limit price one tick below the edge",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"order_type": "limit", "price": "48999.9"}));
                },
                true,
            ),
            (
                "the limit price2 of a stop-loss-limit",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"order_type": "stop-loss-limit",
                        "price": "30000", "price2": "29000"}));
                },
                true,
            ),
            (
                "a stop-loss trigger far away is fine",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.signal = signal(json!({"order_type": "stop-loss", "price": "30000"}));
                },
                false,
            ),
            (
                "a limit price with no ticker",
                |s| {
                    s.config.price_band_pct = Some(dec("2"));
                    s.market.price = None;
                    s.signal = signal(json!({"order_type": "limit", "price": "50000"}));
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
