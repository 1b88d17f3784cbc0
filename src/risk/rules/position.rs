//! Position: a buy may not take the base asset's holding above `risk.max_position`
//! (a table by base asset, `XBT = "0.5"`). The holding is the exchange balance (the
//! paper trader's in paper mode, which fills move), read a few seconds ago, plus what
//! the balance may not show yet: buys unsettled or answered since that read, and the
//! unfilled remainder of buys resting on the book (see `risk::ledger`).
//!
//! Sells are never refused by this rule and, conservatively, do not lower the
//! estimate until the next balance read shows them.

use rust_decimal::Decimal;

use super::Input;
use crate::config::RiskConfig;
use crate::pairs::PairInfo;
use crate::risk::Reason;
use crate::signal::Side;

/// This rule's name in refusals.
pub const RULE: &str = "position";

/// Refuses a buy that would exceed the asset's maximum, or when the balance is unknown.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let Some(pair) = &input.market.pair else {
        return;
    };
    if input.signal.side != Side::Buy {
        return;
    }
    let Some((asset, limit)) = limit_for(input.config, pair) else {
        return;
    };
    let Some(volume) = input.order.volume else {
        return;
    };
    let Some(balance) = &input.market.balance else {
        let why = input.market.balance_error.as_deref().unwrap_or("not read");
        out.push(Reason::new(
            RULE,
            format!("the {asset} balance is unknown ({why}), so max_position cannot be checked"),
        ));
        return;
    };
    let bought = input.state.bought_since_balance;
    let after = balance
        .amount
        .checked_add(bought)
        .and_then(|held| held.checked_add(volume));
    if after.is_none_or(|after| after > limit) {
        out.push(Reason::new(
            RULE,
            format!(
                "balance {} {asset} + {bought} bought since + {volume} would exceed \
                 max_position {limit}",
                balance.amount
            ),
        ));
    }
}

/// The configured maximum for the pair's base asset, by short name (`XBT`) or Kraken
/// id (`XXBT`), any case, with the asset's short name. The market gatherer reads the
/// balance only when there is one.
pub fn limit_for(config: &RiskConfig, pair: &PairInfo) -> Option<(String, Decimal)> {
    let short = pair.base_asset();
    config
        .max_position
        .iter()
        .find(|(name, _)| {
            name.eq_ignore_ascii_case(&short) || name.eq_ignore_ascii_case(&pair.base)
        })
        .map(|(_, limit)| (short.clone(), *limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, dec, signal, Case};
    use serde_json::json;

    fn limit(s: &mut crate::risk::testkit::Scenario, text: &str) {
        s.config.max_position.insert("XBT".into(), dec(text));
    }

    #[test]
    fn buys_up_to_the_position_pass_and_beyond_it_are_refused() {
        // The default order buys 0.01 XBT.
        let cases: &[Case] = &[
            ("no limit", |_| {}, false),
            (
                "reaches the limit exactly",
                |s| {
                    limit(s, "0.5");
                    s.market.balance.as_mut().unwrap().amount = dec("0.48");
                    s.state.bought_since_balance = dec("0.01");
                },
                false,
            ),
            (
                "one lot beyond the limit",
                |s| {
                    limit(s, "0.5");
                    s.market.balance.as_mut().unwrap().amount = dec("0.48000001");
                    s.state.bought_since_balance = dec("0.01");
                },
                true,
            ),
            (
                "recent buys not yet in the balance count",
                |s| {
                    limit(s, "0.5");
                    s.state.bought_since_balance = dec("0.495");
                },
                true,
            ),
            (
                "a limit by Kraken asset id",
                |s| {
                    s.config.max_position.insert("xxbt".into(), dec("0.001"));
                },
                true,
            ),
            (
                "a sell is never refused",
                |s| {
                    limit(s, "0.5");
                    s.market.balance.as_mut().unwrap().amount = dec("9");
                    s.signal = signal(json!({"side": "sell"}));
                },
                false,
            ),
            (
                "a limit on another asset does not apply",
                |s| {
                    s.config.max_position.insert("ETH".into(), dec("0"));
                },
                false,
            ),
            (
                "an unknown balance refuses",
                |s| {
                    limit(s, "0.5");
                    s.market.balance = None;
                    s.market.balance_error = Some("EAPI:Invalid key".into());
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
