//! Unit tests of the native format.

use rust_decimal::Decimal;

use super::*;
use crate::formats::decimal::parse_decimal;
use crate::signal::Amount;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn parse(json: &str) -> Result<Signal, FieldError> {
    parse_signal(json.as_bytes()).map(|(s, _)| s)
}

#[test]
fn number_amounts_are_exact_decimals_not_floats() {
    let s = parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":0.1}"#).unwrap();
    assert_eq!(s.amount, Amount::Base(dec("0.1")));
    let s = parse(
        r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":0.123456789012345678}"#,
    )
    .unwrap();
    assert_eq!(s.amount, Amount::Base(dec("0.123456789012345678")));
}

#[test]
fn string_amounts_are_plain_decimals_and_numbers_may_use_an_exponent() {
    assert_eq!(parse_decimal("12.50").unwrap(), dec("12.5"));
    let s = parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":1e-3}"#).unwrap();
    assert_eq!(s.amount, Amount::Base(dec("0.001")));
    for v in [
        "\"1_000\"",
        "\"+0.01\"",
        "\" 0.01 \"",
        "\"0.01\\n\"",
        "\"1e-3\"",
    ] {
        let body =
            format!(r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":{v}}}"#);
        assert_eq!(parse(&body).unwrap_err().field, "volume", "volume {v}");
    }
}

#[test]
fn trailing_data_after_the_object_is_refused() {
    let one = r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1"}"#;
    for body in [
        format!("{one}xyz"),
        format!("{one}{one}"),
        format!("{one} 1"),
    ] {
        let err = parse(&body).unwrap_err();
        assert_eq!(err.field, "body", "{body}");
    }
    assert!(parse(&format!(" {one}\n")).is_ok());
}

#[test]
fn duplicate_keys_are_refused() {
    let err = parse(
        r#"{"pair":"XBTUSD","pair":"ETHUSD","side":"buy","order_type":"market","volume":"1"}"#,
    )
    .unwrap_err();
    assert!(err.message.contains("duplicate"), "{err}");
}

#[test]
fn a_pair_spelling_is_kept_for_the_audit() {
    let s = parse(r#"{"pair":"KRAKEN:XBTUSD","side":"buy","order_type":"market","volume":"1"}"#)
        .unwrap();
    assert_eq!(s.pair, "XBTUSD");
    assert_eq!(s.pair_sent.as_deref(), Some("KRAKEN:XBTUSD"));
}

#[test]
fn wsname_pairs_are_normalised() {
    let s =
        parse(r#"{"pair":"xbt/usd","side":"sell","order_type":"market","volume":"1"}"#).unwrap();
    assert_eq!(s.pair, "XBTUSD");
    assert_eq!(s.pair_sent.as_deref(), Some("xbt/usd"));
}

#[test]
fn unknown_field_is_named() {
    let err =
        parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","volum":"2"}"#)
            .unwrap_err();
    assert_eq!(err.field, "volum");
}

#[test]
fn wrong_type_names_the_field() {
    let err = parse(
        r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","post_only":"yes"}"#,
    )
    .unwrap_err();
    assert_eq!(err.field, "post_only");
    let err = parse(
        r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"1","price":"1",
            "close":{"order_type":"limit","price":"abc"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.field, "close.price");
}

#[test]
fn limit_order_without_price_is_refused() {
    let err =
        parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"1"}"#).unwrap_err();
    assert_eq!(err.field, "price");
}

#[test]
fn negative_zero_and_absurd_volumes_are_refused() {
    for v in ["-1", "0", "1000000000000"] {
        let body =
            format!(r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"{v}"}}"#);
        assert_eq!(parse(&body).unwrap_err().field, "volume", "volume {v}");
    }
}

#[test]
fn both_or_neither_amount_is_refused() {
    let both =
        r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","quote_volume":"5"}"#;
    assert_eq!(parse(both).unwrap_err().field, "volume");
    let neither = r#"{"pair":"XBTUSD","side":"buy","order_type":"market"}"#;
    assert_eq!(parse(neither).unwrap_err().field, "volume");
}

#[test]
fn stop_loss_limit_needs_both_prices() {
    let err = parse(
        r#"{"pair":"XBTUSD","side":"sell","order_type":"stop-loss-limit","volume":"1","price":"10"}"#,
    )
    .unwrap_err();
    assert_eq!(err.field, "price2");
}

#[test]
fn passphrase_is_returned_apart_and_not_kept_in_the_signal() {
    let (signal, pass) = parse_signal(
        br#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","passphrase":"s3cret"}"#,
    )
    .unwrap();
    assert_eq!(pass.as_deref(), Some("s3cret"));
    assert!(!serde_json::to_string(&signal).unwrap().contains("s3cret"));
}

#[test]
fn malformed_json_is_a_body_error() {
    assert_eq!(parse("{not json").unwrap_err().field, "body");
}
