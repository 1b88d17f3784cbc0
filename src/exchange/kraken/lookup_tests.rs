//! Unit tests of [`super`]: recognising our order, and never picking one of several.
use super::*;
use serde_json::json;
use uuid::Uuid;

/// What an open and a closed `txid → order` map say about `order`.
fn settle(open: Value, closed: Value, order: &OrderRequest, filter: OrderFilter) -> Match {
    let empty = Map::new();
    let open = open.as_object().unwrap_or(&empty);
    let closed = closed.as_object().unwrap_or(&empty);
    let zero = TimeDelta::zero();
    decide(
        &candidates(open, order, filter, zero),
        &candidates(closed, order, filter, zero),
    )
}

fn one(txid: &str, state: &str) -> Match {
    Match::One {
        txid: txid.into(),
        state: state.into(),
    }
}

#[test]
fn an_order_is_found_by_its_cl_ord_id_only() {
    let order = OrderRequest::example();
    let id = order.client_order_id.to_string();
    let open = json!({
        "OTHER1": {"cl_ord_id": Uuid::new_v4().to_string(), "status": "open"},
        "OURS01": {"cl_ord_id": id, "status": "open"},
    });
    let filter = OrderFilter::ClOrdId(order.client_order_id);
    assert_eq!(
        settle(open, json!({}), &order, filter),
        one("OURS01", "open")
    );
}

#[test]
fn entries_of_other_orders_are_never_taken_for_ours() {
    let order = OrderRequest::example();
    let open = json!({"OTHER1": {"status": "open"}, "OTHER2": {"userref": 42}});
    let filter = OrderFilter::ClOrdId(order.client_order_id);
    assert_eq!(settle(open, json!({}), &order, filter), Match::Absent);
}

#[test]
fn an_order_that_closed_between_the_two_reads_is_one_order_in_its_closed_state() {
    let order = OrderRequest::example();
    let entry = |status: &str| json!({"cl_ord_id": Uuid::nil().to_string(), "status": status});
    let filter = OrderFilter::ClOrdId(order.client_order_id);
    assert_eq!(
        settle(
            json!({"A": entry("open")}),
            json!({"A": entry("closed")}),
            &order,
            filter
        ),
        one("A", "closed")
    );
}

#[test]
fn a_userref_match_must_also_have_our_pair_and_side() {
    let order = OrderRequest::example();
    let entry = |pair: &str, side: &str| json!({"userref": 7, "status": "closed", "descr": {"pair": pair, "type": side}});
    let filter = OrderFilter::Userref(7);
    let closed = json!({"A": entry("XBTUSD", "buy"), "B": entry("ETHUSD", "buy"),
                        "C": entry("XBTUSD", "sell")});
    assert_eq!(
        settle(json!({}), closed, &order, filter),
        one("A", "closed")
    );
}

#[test]
fn several_userref_candidates_are_ambiguous_never_resolved_by_picking_one() {
    let order = OrderRequest::example();
    let deadline = order.deadline.timestamp() as f64;
    let entry = |status: &str, opentm: f64| {
        json!({"userref": 42, "status": status, "vol": "1.25", "opentm": opentm,
               "descr": {"pair": "XBT/USD", "type": "buy", "ordertype": "limit"}})
    };
    let filter = OrderFilter::Userref(42);
    // Both in the closed list.
    let closed =
        json!({"A": entry("closed", deadline - 9.5), "B": entry("closed", deadline - 3.0)});
    let found = settle(json!({}), closed, &order, filter);
    assert_eq!(
        found,
        Match::Several {
            txids: vec!["A".into(), "B".into()]
        }
    );
    // One open, another closed: still two orders.
    let open = json!({"A": entry("open", deadline - 9.5)});
    let closed = json!({"B": entry("closed", deadline - 3.0)});
    assert!(matches!(
        settle(open, closed, &order, filter),
        Match::Several { .. }
    ));
    let reason = Match::ambiguity(&["A".into(), "B".into()]);
    assert!(
        reason.starts_with(AMBIGUOUS) && reason.contains("A, B"),
        "{reason}"
    );
}

#[test]
fn a_userref_match_must_also_have_our_type_volume_and_a_timely_opening() {
    let order = OrderRequest::example();
    let deadline = order.deadline.timestamp() as f64;
    let entry = |ordertype: &str, vol: &str, opentm: f64| {
        json!({"userref": 42, "status": "closed", "vol": vol, "opentm": opentm,
               "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": ordertype}})
    };
    let filter = OrderFilter::Userref(42);
    let ours = entry("limit", "1.25000000", deadline - 9.5);
    let others = [
        (
            "an older order with the same userref",
            entry("limit", "1.25", deadline - 86_400.0),
        ),
        (
            "another order type",
            entry("market", "1.25", deadline - 9.5),
        ),
        ("another volume", entry("limit", "1.2", deadline - 9.5)),
        (
            "opened long after the deadline",
            entry("limit", "1.25", deadline + 3_600.0),
        ),
    ];
    for (what, other) in others {
        let closed = json!({"OURS": ours, "OTHER": other});
        assert_eq!(
            settle(json!({}), closed, &order, filter),
            one("OURS", "closed"),
            "{what}"
        );
    }
}

#[test]
fn the_opening_time_is_judged_on_krakens_clock() {
    let order = OrderRequest::example();
    let hour = TimeDelta::hours(1);
    // Kraken's clock runs an hour ahead: its opentm is an hour past our deadline.
    let opentm = (order.deadline + hour).timestamp() as f64 - 5.0;
    let entry = json!({"userref": 42, "opentm": opentm});
    let filter = OrderFilter::Userref(42);
    assert!(!is_our_order(&entry, &order, filter, TimeDelta::zero()));
    assert!(is_our_order(&entry, &order, filter, hour));
    assert!(scan_start(&order, hour) < opentm as i64);
    assert_eq!(
        scan_start(&order, hour) - scan_start(&order, TimeDelta::zero()),
        3_600,
        "the closed scan starts on Kraken's clock too"
    );
}

#[test]
fn an_order_with_a_close_is_looked_up_by_its_userref() {
    let mut order = OrderRequest::example();
    assert_eq!(
        filter_for(&order),
        Ok(OrderFilter::ClOrdId(order.client_order_id))
    );
    order.close = Some(crate::signal::CloseOrder {
        order_type: crate::signal::OrderType::StopLoss,
        price: Some(Decimal::new(36_000, 0)),
        price2: None,
    });
    assert_eq!(filter_for(&order), Ok(OrderFilter::Userref(42)));
    order.userref = None;
    assert!(filter_for(&order).is_err());
}
