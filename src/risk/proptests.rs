//! Property tests of rounding and conversion: a volume is never rounded up, a
//! converted `quote_volume` never spends more than asked nor passes a volume limit.
//! Every value is an exact decimal built from integers; no float is involved.

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::resolve::{quote_to_volume, round_price, round_volume_down};
use super::testkit::{signal, Scenario};
use super::Verdict;
use crate::pairs::PairTable;
use crate::signal::Side;

/// A positive decimal `mantissa × 10^-scale`.
fn decimal(max_mantissa: i64, max_scale: u32) -> impl Strategy<Value = Decimal> {
    (1..=max_mantissa, 0..=max_scale).prop_map(|(m, s)| Decimal::new(m, s))
}

fn one_lot(lot_decimals: u32) -> Decimal {
    Decimal::new(1, lot_decimals)
}

proptest! {
    #[test]
    fn rounding_a_volume_never_rounds_it_up(
        volume in decimal(1_000_000_000_000_000, 18),
        lot in 0u32..=10,
    ) {
        let rounded = round_volume_down(volume, lot);
        prop_assert!(rounded <= volume);
        prop_assert!(volume - rounded < one_lot(lot));
        prop_assert!(rounded.scale() <= lot);
    }

    #[test]
    fn a_converted_quote_volume_never_spends_more_than_the_quote(
        quote in decimal(1_000_000_000_000, 6),
        price in decimal(1_000_000_000_000, 8),
        lot in 0u32..=10,
    ) {
        let volume = quote_to_volume(quote, price, lot).unwrap();
        prop_assert!(volume * price <= quote, "{volume} × {price} > {quote}");
        // And it is the largest such volume: one more lot would overspend.
        prop_assert!((volume + one_lot(lot)) * price > quote);
        prop_assert!(volume.scale() <= lot);
    }

    #[test]
    fn prices_round_in_the_account_s_favour_onto_the_tick(
        price in decimal(1_000_000_000_000, 10),
        tick_exp in 0u32..=5,
        sell in any::<bool>(),
    ) {
        let mut pair = PairTable::snapshot().get("XBTUSD").cloned().unwrap();
        pair.pair_decimals = tick_exp;
        pair.tick_size = Some(Decimal::new(1, tick_exp));
        let side = if sell { Side::Sell } else { Side::Buy };
        let rounded = round_price(price, &pair, side);
        match side {
            Side::Buy => prop_assert!(rounded <= price),
            Side::Sell => prop_assert!(rounded >= price),
        }
        prop_assert!((rounded - price).abs() < Decimal::new(1, tick_exp));
        prop_assert!((rounded % Decimal::new(1, tick_exp)).is_zero());
    }

    #[test]
    fn an_approved_quote_volume_order_is_within_the_quote_and_the_volume_limit(
        quote in decimal(100_000_000, 2),
        price in decimal(1_000_000_000, 5),
        limit in decimal(100_000_000, 8),
        limit_order in any::<bool>(),
    ) {
        let mut s = Scenario::new();
        s.config.max_order_volume.insert("XBTUSD".into(), limit);
        let price_text = price.to_string();
        s.market.price.as_mut().unwrap().price = price;
        s.signal = if limit_order {
            signal(json!({"volume": null, "quote_volume": quote.to_string(),
                "order_type": "limit", "price": price_text}))
        } else {
            signal(json!({"volume": null, "quote_volume": quote.to_string()}))
        };
        if let Verdict::Approved(order) = s.evaluate() {
            prop_assert!(order.volume <= limit);
            let price = order.price.unwrap_or(price);
            prop_assert!(order.volume * price <= quote);
            prop_assert_eq!(order.notional, Some(order.volume * price));
        }
    }
}
