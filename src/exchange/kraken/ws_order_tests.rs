//! Unit tests of the WebSocket v2 `add_order` message and answers.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::exchange::kraken::order_form::add_order_fields;
use crate::signal::{CloseOrder, OrderType};

fn message(order: &OrderRequest, validate: bool) -> Value {
    let fields = add_order_fields(order, validate).unwrap();
    add_order_message(order, &fields, "tok", 7).unwrap()
}

#[test]
fn a_limit_order_carries_its_id_deadline_and_exact_numbers_without_a_nonce() {
    let m = message(&OrderRequest::example(), false);
    assert_eq!(m["method"], "add_order");
    assert_eq!(m["req_id"], 7);
    let p = &m["params"];
    assert_eq!(p["symbol"], "BTC/USD");
    assert_eq!(p["side"], "buy");
    assert_eq!(p["order_type"], "limit");
    assert_eq!(p["order_qty"].to_string(), "1.25");
    assert_eq!(p["limit_price"].to_string(), "37500");
    assert_eq!(p["cl_ord_id"], uuid::Uuid::nil().to_string());
    assert_eq!(p["deadline"], "2023-11-14T22:13:30.123Z");
    assert_eq!(p["token"], "tok");
    assert!(p.get("nonce").is_none() && p.get("validate").is_none());
    assert!(without_token(&m)["params"].get("token").is_none());
}

#[test]
fn a_conditional_close_uses_order_userref_and_a_trigger_price() {
    let mut o = OrderRequest::example();
    o.close = Some(CloseOrder {
        order_type: OrderType::StopLoss,
        price: Some(Decimal::from_str("36000").unwrap()),
        price2: None,
    });
    let m = message(&o, true);
    let p = &m["params"];
    assert_eq!(p["order_userref"], 42);
    assert!(p.get("cl_ord_id").is_none());
    assert_eq!(p["conditional"]["order_type"], "stop-loss");
    assert_eq!(p["conditional"]["trigger_price"].to_string(), "36000");
    assert_eq!(p["validate"], true);
}

#[test]
fn a_stop_loss_limit_puts_its_trigger_in_triggers_and_its_limit_in_limit_price() {
    let mut o = OrderRequest::example();
    o.order_type = OrderType::StopLossLimit;
    o.price = Some(Decimal::from_str("37500").unwrap());
    o.price2 = Some(Decimal::from_str("37400").unwrap());
    let p = message(&o, false)["params"].clone();
    assert_eq!(p["triggers"]["price"].to_string(), "37500");
    assert_eq!(p["limit_price"].to_string(), "37400");
}

#[test]
fn leverage_is_refused_rather_than_sent_differently() {
    let mut o = OrderRequest::example();
    o.leverage = Some("2".into());
    let fields = add_order_fields(&o, false).unwrap();
    assert!(add_order_message(&o, &fields, "tok", 1).is_err());
}

#[test]
fn answers_are_matched_by_req_id_and_read_as_accepted_or_refused() {
    let ok = json!({"method": "add_order", "req_id": 7, "success": true,
        "result": {"order_id": "OABC", "cl_ord_id": "x"}});
    assert_eq!(answer(&ok, 7), Answer::Accepted(Some("OABC".into())));
    assert_eq!(answer(&ok, 8), Answer::Other);
    let no = json!({"method": "add_order", "req_id": 7, "success": false,
        "error": "EOrder:Insufficient funds"});
    assert_eq!(
        answer(&no, 7),
        Answer::Refused("EOrder:Insufficient funds".into())
    );
    assert_eq!(answer(&json!({"channel": "heartbeat"}), 7), Answer::Other);
}
