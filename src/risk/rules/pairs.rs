//! Allowed pairs: the pair must be known (in Kraken's pair table), listed in
//! `risk.allowed_pairs` (an empty list allows none), listed in the source's own
//! `allowed_pairs` when it has one, and open for this kind of order on Kraken.

use super::{names_pair, Input};
use crate::pairs::PairInfo;
use crate::risk::Reason;
use crate::signal::{OrderType, Signal};

/// This rule's name in refusals.
pub const RULE: &str = "pair";

/// Refuses an unknown, unlisted or closed pair.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let signal = input.signal;
    let Some(pair) = &input.market.pair else {
        out.push(Reason::new(
            RULE,
            format!("{} is not a Kraken pair this service knows", signal.pair),
        ));
        return;
    };
    let listed = |list: &[String]| list.iter().any(|name| names_pair(name, pair));
    if !listed(&input.config.allowed_pairs) {
        out.push(Reason::new(
            RULE,
            format!("{} is not in risk.allowed_pairs", pair.altname),
        ));
    }
    if let Some(list) = &input.source.allowed_pairs {
        if !listed(list) {
            out.push(Reason::new(
                RULE,
                format!(
                    "{} is not in the allowed_pairs of source {}",
                    pair.altname, input.source.name
                ),
            ));
        }
    }
    if let Some(why) = closed(pair, signal) {
        out.push(Reason::new(RULE, why));
    }
}

/// Why Kraken would not take this order on the pair now (its `status`), if it would not.
fn closed(pair: &PairInfo, signal: &Signal) -> Option<String> {
    let status = pair.status.as_deref().unwrap_or("online");
    let allowed = match status {
        "online" => true,
        "limit_only" => signal.order_type == OrderType::Limit,
        "post_only" => signal.order_type == OrderType::Limit && signal.post_only,
        "reduce_only" => signal.reduce_only,
        _ => false,
    };
    (!allowed).then(|| {
        format!(
            "{} is `{status}` on Kraken and cannot take this order",
            pair.altname
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, market, signal, Case};
    use serde_json::json;

    #[test]
    fn only_known_listed_open_pairs_pass() {
        let cases: &[Case] = &[
            ("a listed pair", |_| {}, false),
            (
                "a listed pair named by its wsname in config",
                |s| s.config.allowed_pairs = vec!["XBT/USD".into()],
                false,
            ),
            (
                "a listed pair named by its canonical id",
                |s| s.config.allowed_pairs = vec!["XXBTZUSD".into()],
                false,
            ),
            (
                "a pair missing from the list",
                |s| s.config.allowed_pairs = vec!["ETHUSD".into()],
                true,
            ),
            (
                "an empty list allows none",
                |s| s.config.allowed_pairs.clear(),
                true,
            ),
            (
                "an unknown pair",
                |s| {
                    s.signal = signal(json!({"pair": "NOPEUSD"}));
                    s.market = market("NOPEUSD", "1");
                },
                true,
            ),
            (
                "a source list that also has it",
                |s| s.source.allowed_pairs = Some(vec!["XBTUSD".into()]),
                false,
            ),
            (
                "a source list that narrows it away",
                |s| s.source.allowed_pairs = Some(vec!["ETHUSD".into()]),
                true,
            ),
            (
                "a source cannot widen the global list",
                |s| {
                    s.config.allowed_pairs = vec!["ETHUSD".into()];
                    s.source.allowed_pairs = Some(vec!["XBTUSD".into()]);
                },
                true,
            ),
            (
                "a cancel-only pair",
                |s| s.market.pair.as_mut().unwrap().status = Some("cancel_only".into()),
                true,
            ),
            (
                "a limit order on a limit-only pair",
                |s| {
                    s.market.pair.as_mut().unwrap().status = Some("limit_only".into());
                    s.signal = signal(json!({"order_type": "limit", "price": "50000"}));
                },
                false,
            ),
            (
                "a market order on a limit-only pair",
                |s| s.market.pair.as_mut().unwrap().status = Some("limit_only".into()),
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }

    #[test]
    fn global_and_source_refusals_are_both_reported() {
        let mut s = crate::risk::testkit::Scenario::new();
        s.config.allowed_pairs = vec!["ETHUSD".into()];
        s.source.allowed_pairs = Some(vec!["ETHUSD".into()]);
        assert_eq!(s.check(check).len(), 2);
    }
}
