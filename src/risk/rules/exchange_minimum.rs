//! Exchange minimum: Kraken refuses an order below the pair's `ordermin` (volume) or
//! `costmin` (volume × price), and such a refusal would count toward the circuit
//! breaker; refuse it here instead. When the order cannot be valued (no price), only
//! `ordermin` is checked: the minimum is Kraken's rule, which Kraken enforces anyway.

use super::Input;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "exchange_minimum";

/// Refuses an order below the pair's minimum volume or cost.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let (Some(pair), Some(volume)) = (&input.market.pair, input.order.volume) else {
        return;
    };
    if let Some(min) = pair.ordermin {
        if volume < min {
            out.push(Reason::new(
                RULE,
                format!(
                    "volume {volume} is below Kraken's ordermin {min} for {}",
                    pair.altname
                ),
            ));
        }
    }
    if let (Some(min), Ok(notional)) = (pair.costmin, &input.order.notional) {
        if *notional < min {
            out.push(Reason::new(
                RULE,
                format!(
                    "cost {notional} {} is below Kraken's costmin {min} for {}",
                    pair.quote_asset(),
                    pair.altname
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, signal, Case};
    use serde_json::json;

    #[test]
    fn orders_at_the_minimum_pass_and_below_it_are_refused() {
        // XBTUSD: ordermin 0.00005, costmin 0.5.
        let cases: &[Case] = &[
            ("a normal order", |_| {}, false),
            (
                "exactly ordermin, worth 2.5",
                |s| s.signal = signal(json!({"volume": "0.00005"})),
                false,
            ),
            (
                "one lot below ordermin",
                |s| s.signal = signal(json!({"volume": "0.00004999"})),
                true,
            ),
            (
                "exactly costmin",
                |s| {
                    s.market.price.as_mut().unwrap().price = "10000".parse().unwrap();
                    s.signal = signal(json!({"volume": "0.00005"}));
                },
                false,
            ),
            (
                "just below costmin",
                |s| {
                    s.market.price.as_mut().unwrap().price = "9999.9".parse().unwrap();
                    s.signal = signal(json!({"volume": "0.00005"}));
                },
                true,
            ),
            (
                "no price: only ordermin is checked",
                |s| {
                    s.market.price = None;
                    s.signal = signal(json!({"volume": "0.00005"}));
                },
                false,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
