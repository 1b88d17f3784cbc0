//! Notional: the value of one order (volume × the price it is expected to trade at,
//! in quote currency) may not exceed `risk.max_order_notional`, one value for every
//! pair or a table by pair. A market order is valued at the ticker (or a trusted
//! `reference_price`); with no price the order is refused.

use super::{for_pair, needed_notional, Input};
use crate::config::PerPair;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "notional";

/// Refuses an order worth more than its pair's limit, or one that cannot be valued.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let Some(pair) = &input.market.pair else {
        return;
    };
    let limit = match &input.config.max_order_notional {
        None => return,
        Some(PerPair::All(limit)) => *limit,
        Some(PerPair::ByPair(table)) => match for_pair(table, pair) {
            Some(limit) => *limit,
            None => return,
        },
    };
    match needed_notional(input.order, RULE) {
        Err(reason) => out.push(reason),
        Ok(Some(notional)) if notional > limit => out.push(Reason::new(
            RULE,
            format!(
                "notional {notional} {} is above max_order_notional {limit}",
                pair.quote_asset()
            ),
        )),
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, dec, signal, Case};
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn orders_just_inside_the_notional_pass_and_just_outside_are_refused() {
        let cases: &[Case] = &[
            ("no limit", |_| {}, false),
            (
                "exactly the limit (0.01 × 50000)",
                |s| s.config.max_order_notional = Some(PerPair::All(dec("500"))),
                false,
            ),
            (
                "a cent below the order's value",
                |s| s.config.max_order_notional = Some(PerPair::All(dec("499.99"))),
                true,
            ),
            (
                "a limit order is valued at its limit price",
                |s| {
                    s.config.max_order_notional = Some(PerPair::All(dec("500")));
                    s.signal = signal(json!({"order_type": "limit", "price": "50000.1"}));
                },
                true,
            ),
            (
                "a by-pair table without the pair",
                |s| {
                    let table = BTreeMap::from([("ETHUSD".to_owned(), dec("1"))]);
                    s.config.max_order_notional = Some(PerPair::ByPair(table));
                },
                false,
            ),
            (
                "a by-pair table with the pair",
                |s| {
                    let table = BTreeMap::from([("XBTUSD".to_owned(), dec("499.99"))]);
                    s.config.max_order_notional = Some(PerPair::ByPair(table));
                },
                true,
            ),
            (
                "no ticker and no reference price",
                |s| {
                    s.config.max_order_notional = Some(PerPair::All(dec("500")));
                    s.market.price = None;
                    s.market.price_error = Some("timeout".into());
                },
                true,
            ),
            (
                "no ticker and an untrusted reference price",
                |s| {
                    s.config.max_order_notional = Some(PerPair::All(dec("500")));
                    s.market.price = None;
                    s.signal = signal(json!({"reference_price": "100"}));
                },
                true,
            ),
            (
                "no ticker and a trusted reference price",
                |s| {
                    s.config.max_order_notional = Some(PerPair::All(dec("500")));
                    s.config.trust_reference_price = true;
                    s.market.price = None;
                    s.signal = signal(json!({"reference_price": "50000"}));
                },
                false,
            ),
            (
                "a ticker price too old to use",
                |s| {
                    s.config.max_order_notional = Some(PerPair::All(dec("500")));
                    s.market.price.as_mut().unwrap().at -= chrono::Duration::seconds(31);
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }

    #[test]
    fn a_missing_price_is_named_in_the_refusal() {
        let mut s = crate::risk::testkit::Scenario::new();
        s.config.max_order_notional = Some(PerPair::All(dec("500")));
        s.market.price = None;
        s.market.price_error = Some("Kraken timed out".into());
        let reasons = s.check(check);
        assert!(
            reasons[0].detail.contains("Kraken timed out"),
            "{reasons:?}"
        );
    }
}
