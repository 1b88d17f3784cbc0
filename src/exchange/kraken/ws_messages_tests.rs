//! Parsing executions frames shaped as Kraken documents them.

use super::*;

const ID: &str = "0b8ddb46-48a8-4a62-a4e6-9bd2e3b8c2a1";

fn trade(exec_id: &str, status: &str) -> Value {
    json!({
        "order_id": "OK4GJX-KSTLS-7DZZO5", "cl_ord_id": ID, "exec_id": exec_id,
        "exec_type": "trade", "trade_id": 365573, "symbol": "BTC/USD", "side": "buy",
        "last_qty": 0.1, "last_price": 50000.5, "liquidity_ind": "m", "cost": 5000.05,
        "order_status": status, "order_type": "limit", "timestamp": "2026-12-05T06:00:00.123456Z",
        "fee_usd_equiv": 1.3, "fees": [{"asset": "USD", "qty": 1.3}]
    })
}

fn frame(kind: &str, data: Vec<Value>) -> String {
    json!({"channel": "executions", "type": kind, "data": data, "sequence": 3}).to_string()
}

#[test]
fn a_trade_becomes_a_fill_that_does_not_complete_the_order() {
    let parsed = parse(&frame("update", vec![trade("TQKQJZ-1", "filled")])).unwrap();
    let [ExecutionEvent::Fill(fill)] = parsed.events.as_slice() else {
        panic!("{parsed:?}");
    };
    assert_eq!(fill.trade_id, "TQKQJZ-1");
    assert_eq!(fill.volume, "0.1".parse().unwrap());
    assert_eq!(fill.price, "50000.5".parse().unwrap());
    assert_eq!(
        (fill.fee, fill.fee_currency.as_str()),
        ("1.3".parse().unwrap(), "USD")
    );
    assert_eq!(fill.liquidity, Liquidity::Maker);
    assert!(!fill.completes, "only exec_type filled completes an order");
    assert!(!parsed.snapshot);
}

#[test]
fn exec_type_filled_completes_the_order() {
    let filled = json!({"order_id": "O1", "cl_ord_id": ID, "exec_type": "filled",
        "order_status": "filled", "cum_qty": 0.1, "timestamp": "2026-12-05T06:00:01Z"});
    let parsed = parse(&frame("update", vec![filled])).unwrap();
    assert!(matches!(
        parsed.events.as_slice(),
        [ExecutionEvent::Completed { .. }]
    ));
}

#[test]
fn pending_new_and_new_change_nothing_and_a_cancel_says_why() {
    let pending = json!({"order_id": "O1", "cl_ord_id": ID, "exec_type": "pending_new",
        "order_status": "pending_new", "timestamp": "2026-12-05T06:00:00Z"});
    let new = json!({"order_id": "O1", "cl_ord_id": ID, "exec_type": "new",
        "order_status": "new", "timestamp": "2026-12-05T06:00:00Z"});
    let canceled = json!({"order_id": "O1", "cl_ord_id": ID, "exec_type": "canceled",
        "order_status": "canceled", "reason": "User requested", "timestamp": "2026-12-05T06:00:02Z"});
    let parsed = parse(&frame("update", vec![pending, new, canceled])).unwrap();
    let [ExecutionEvent::Canceled { cause, .. }] = parsed.events.as_slice() else {
        panic!("{parsed:?}");
    };
    assert_eq!(cause, "canceled by the exchange: User requested");
}

#[test]
fn orders_without_our_client_order_id_are_foreign() {
    let mut other = trade("TX", "filled");
    other["cl_ord_id"] = Value::Null;
    let parsed = parse(&frame("snapshot", vec![other])).unwrap();
    assert!(parsed.events.is_empty());
    assert_eq!(parsed.foreign, ["OK4GJX-KSTLS-7DZZO5"]);
    assert!(parsed.snapshot);
}

#[test]
fn subscribe_answers_and_other_channels_are_told_apart() {
    let ok = parse(r#"{"method":"subscribe","result":{"channel":"executions"},"success":true}"#);
    assert!(ok.unwrap().subscribed);
    let refused =
        parse(r#"{"method":"subscribe","success":false,"error":"EAccount:Invalid token"}"#);
    assert_eq!(
        refused.unwrap().refused.as_deref(),
        Some("EAccount:Invalid token")
    );
    assert_eq!(
        parse(r#"{"channel":"heartbeat"}"#).unwrap(),
        Frame::default()
    );
    assert!(parse("not json").is_err());
}
