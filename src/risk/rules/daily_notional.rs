//! Daily notional: today's (UTC) accepted notional plus this order's may not exceed
//! `risk.max_daily_notional`, in quote currency. Orders that `failed` or `expired`
//! never traded and do not count (see [`crate::risk::ledger`]).
//!
//! The limit is one number across pairs: the operator is expected to trade pairs
//! quoted in one currency, as the notional is not converted between quote currencies.

use super::{needed_notional, Input};
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "daily_notional";

/// Refuses an order that would take today's total above the limit, or cannot be valued.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let Some(limit) = input.config.max_daily_notional else {
        return;
    };
    match needed_notional(input.order, RULE) {
        Err(reason) => out.push(reason),
        Ok(Some(notional)) => {
            let today = input.state.daily_notional;
            let total = today.checked_add(notional);
            if total.is_none_or(|total| total > limit) {
                out.push(Reason::new(
                    RULE,
                    format!(
                        "{today} accepted today (UTC) + {notional} is above \
                         max_daily_notional {limit}"
                    ),
                ));
            }
        }
        Ok(None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, dec, Case};

    #[test]
    fn the_order_reaching_the_limit_passes_and_one_beyond_it_is_refused() {
        // The default order is worth 500.
        let cases: &[Case] = &[
            ("no limit", |s| s.state.daily_notional = dec("1e9"), false),
            (
                "reaches the limit exactly",
                |s| {
                    s.config.max_daily_notional = Some(dec("1000"));
                    s.state.daily_notional = dec("500");
                },
                false,
            ),
            (
                "a cent beyond the limit",
                |s| {
                    s.config.max_daily_notional = Some(dec("1000"));
                    s.state.daily_notional = dec("500.01");
                },
                true,
            ),
            (
                "alone above the limit",
                |s| s.config.max_daily_notional = Some(dec("499")),
                true,
            ),
            (
                "no price to value it",
                |s| {
                    s.config.max_daily_notional = Some(dec("1000"));
                    s.market.price = None;
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
