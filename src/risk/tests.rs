//! Tests of the engine as a whole: every failing rule is reported, an approval
//! carries the rounded order, and the reasons serialise as the API shows them.

use serde_json::json;

use super::testkit::{dec, market, signal, Scenario};
use super::view::Halt;
use super::*;
use crate::config::PerPair;

#[test]
fn a_plain_signal_is_approved_with_its_rounded_order() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"volume": "0.0123456789", "order_type": "limit",
        "price": "50000.19"}));
    let order = s.approved();
    assert_eq!(order.pair.altname, "XBTUSD");
    assert_eq!(order.volume, dec("0.01234567"));
    assert_eq!(order.price, Some(dec("50000.1")));
    assert_eq!(order.notional, Some(dec("617.284734567")));
}

#[test]
fn a_sell_price_rounds_up_and_its_close_rounds_as_a_buy() {
    let mut s = Scenario::new();
    s.signal = signal(
        json!({"side": "sell", "order_type": "limit", "price": "50000.11",
        "close": {"order_type": "limit", "price": "49000.19"}}),
    );
    s.config.allowed_order_types = None;
    let order = s.approved();
    assert_eq!(order.price, Some(dec("50000.2")));
    assert_eq!(order.close.unwrap().price, Some(dec("49000.1")));
}

#[test]
fn a_quote_volume_market_order_is_converted_at_the_ticker() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"volume": null, "quote_volume": "100"}));
    s.market = market("XBTUSD", "30000");
    let order = s.approved();
    assert_eq!(order.volume, dec("0.00333333"));
    assert!(order.notional.unwrap() <= dec("100"));
}

#[test]
fn a_quote_volume_without_any_price_is_refused_naming_why() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"volume": null, "quote_volume": "100"}));
    s.market.price = None;
    s.market.price_error = Some("Kraken unreachable".into());
    let reasons = s.evaluate().reasons().to_vec();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].rule, resolve::QUOTE_VOLUME);
    assert!(reasons[0].detail.contains("Kraken unreachable"));
}

#[test]
fn a_volume_that_rounds_to_nothing_is_refused() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"volume": "0.000000001"}));
    let rules = s.refusing_rules();
    assert!(rules.contains(&resolve::PRECISION.to_owned()), "{rules:?}");
}

#[test]
fn every_failing_rule_is_reported_not_just_the_first() {
    let mut s = Scenario::new();
    s.state.halt = Some(Halt {
        reason: "admin".into(),
        since: s.now,
    });
    s.config.allowed_pairs.clear();
    s.config.max_order_notional = Some(PerPair::All(dec("0.001")));
    s.config.max_orders_per_minute = Some(0);
    s.signal = signal(json!({"leverage": "3", "order_type": "stop-loss", "price": "1"}));
    let rules = s.refusing_rules();
    assert_eq!(
        rules,
        [
            "halt",
            "pair",
            "order_type",
            "leverage",
            "notional",
            "exchange_minimum",
            "order_rate"
        ]
    );
}

#[test]
fn an_unknown_pair_is_refused_by_the_pair_rule_alone() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"pair": "NOPEUSD"}));
    s.market = MarketView::default();
    s.config.max_order_notional = Some(PerPair::All(dec("1")));
    s.config.max_position.insert("XBT".into(), dec("1"));
    let reasons = s.evaluate().reasons().to_vec();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].rule, "pair");
}

#[test]
fn reasons_serialise_as_rule_and_detail() {
    let reason = Reason::new("size", "too big");
    assert_eq!(
        serde_json::to_value(&reason).unwrap(),
        json!({"rule": "size", "detail": "too big"})
    );
    let refused = Verdict::Refused {
        reasons: vec![reason],
    };
    assert_eq!(
        serde_json::to_value(&refused).unwrap(),
        json!({"verdict": "refused", "reasons": [{"rule": "size", "detail": "too big"}]})
    );
}

#[test]
fn a_quote_volume_at_a_price_that_rounds_to_nothing_is_refused_with_reasons() {
    let mut s = Scenario::new();
    s.signal = signal(json!({"volume": null, "quote_volume": "100",
        "order_type": "limit", "price": "0.01"}));
    let rules = s.refusing_rules();
    assert!(rules.contains(&resolve::PRECISION.to_owned()), "{rules:?}");
    assert!(
        rules.contains(&resolve::QUOTE_VOLUME.to_owned()),
        "{rules:?}"
    );
}
