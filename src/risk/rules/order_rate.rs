//! Order rate: at most `risk.max_orders_per_minute` accepted orders in any rolling
//! 60 s over all sources, `risk.max_orders_per_minute_per_pair` per pair, and the
//! source's own `max_orders_per_minute`. A runaway strategy is stopped within a minute.
//!
//! Counts come from the database inside the write transaction (see
//! [`crate::risk::ledger`]): every order not `rejected` counts, including those that
//! later failed or expired, because each was an attempt on the exchange.

use super::Input;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "order_rate";

/// Refuses a signal that would make one window hold more orders than its limit.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let state = input.state;
    let pair = input
        .market
        .pair
        .as_ref()
        .map_or(input.signal.pair.as_str(), |p| p.altname.as_str());
    let windows = [
        (
            input.config.max_orders_per_minute,
            state.orders_last_minute,
            "risk.max_orders_per_minute".to_owned(),
        ),
        (
            input.config.max_orders_per_minute_per_pair,
            state.pair_orders_last_minute,
            format!("risk.max_orders_per_minute_per_pair (pair {pair})"),
        ),
        (
            input.source.max_orders_per_minute,
            state.source_orders_last_minute,
            format!("max_orders_per_minute of source {}", input.source.name),
        ),
    ];
    for (limit, count, name) in windows {
        if let Some(limit) = limit {
            if count >= limit {
                out.push(Reason::new(
                    RULE,
                    format!("{count} orders accepted in the last 60 s; {name} is {limit}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, Case, Scenario};

    #[test]
    fn the_last_order_under_each_limit_passes_and_the_next_is_refused() {
        let cases: &[Case] = &[
            ("no limits", |s| s.state.orders_last_minute = 1000, false),
            (
                "global: 9 of 10 used",
                |s| {
                    s.config.max_orders_per_minute = Some(10);
                    s.state.orders_last_minute = 9;
                },
                false,
            ),
            (
                "global: 10 of 10 used",
                |s| {
                    s.config.max_orders_per_minute = Some(10);
                    s.state.orders_last_minute = 10;
                },
                true,
            ),
            (
                "per pair: 2 of 3 used",
                |s| {
                    s.config.max_orders_per_minute_per_pair = Some(3);
                    s.state.pair_orders_last_minute = 2;
                    s.state.orders_last_minute = 50;
                },
                false,
            ),
            (
                "per pair: 3 of 3 used",
                |s| {
                    s.config.max_orders_per_minute_per_pair = Some(3);
                    s.state.pair_orders_last_minute = 3;
                },
                true,
            ),
            (
                "per source: 4 of 5 used",
                |s| {
                    s.source.max_orders_per_minute = Some(5);
                    s.state.source_orders_last_minute = 4;
                },
                false,
            ),
            (
                "per source: 5 of 5 used",
                |s| {
                    s.source.max_orders_per_minute = Some(5);
                    s.state.source_orders_last_minute = 5;
                },
                true,
            ),
            (
                "a limit of zero pauses trading",
                |s| s.config.max_orders_per_minute = Some(0),
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }

    #[test]
    fn every_exceeded_window_is_reported() {
        let mut s = Scenario::new();
        s.config.max_orders_per_minute = Some(1);
        s.config.max_orders_per_minute_per_pair = Some(1);
        s.source.max_orders_per_minute = Some(1);
        s.state.orders_last_minute = 1;
        s.state.pair_orders_last_minute = 1;
        s.state.source_orders_last_minute = 1;
        assert_eq!(s.check(check).len(), 3);
    }
}
