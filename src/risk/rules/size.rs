//! Size: the base volume of one order (after rounding and `quote_volume` conversion)
//! may not exceed `risk.max_order_volume` for its pair.

use super::{for_pair, Input};
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "size";

/// Refuses a volume above the pair's limit.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let (Some(pair), Some(volume)) = (&input.market.pair, input.order.volume) else {
        return;
    };
    if let Some(limit) = for_pair(&input.config.max_order_volume, pair) {
        if volume > *limit {
            out.push(Reason::new(
                RULE,
                format!(
                    "volume {volume} is above max_order_volume {limit} for {}",
                    pair.altname
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, dec, signal, Case};
    use serde_json::json;

    #[test]
    fn volumes_just_inside_the_limit_pass_and_just_outside_are_refused() {
        let cases: &[Case] = &[
            ("no limit", |_| {}, false),
            (
                "exactly the limit",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("XBTUSD".into(), dec("0.01"));
                },
                false,
            ),
            (
                "one lot above the limit",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("XBTUSD".into(), dec("0.01"));
                    s.signal = signal(json!({"volume": "0.01000001"}));
                },
                true,
            ),
            (
                "digits below the lot size round away first",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("XBTUSD".into(), dec("0.01"));
                    s.signal = signal(json!({"volume": "0.010000009"}));
                },
                false,
            ),
            (
                "a limit for another pair does not apply",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("ETHUSD".into(), dec("0.001"));
                },
                false,
            ),
            (
                "a limit written with the wsname",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("XBT/USD".into(), dec("0.001"));
                },
                true,
            ),
            (
                "a quote_volume converting above the limit",
                |s| {
                    s.config
                        .max_order_volume
                        .insert("XBTUSD".into(), dec("0.01"));
                    s.signal = signal(json!({"volume": null, "quote_volume": "500.01"}));
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
