//! Recognising our order in Kraken's `OpenOrders`/`ClosedOrders` answers.
//!
//! The request is filtered by `cl_ord_id` (or `userref`), but each entry is checked
//! again here: were Kraken ever to ignore the filter, another order must never be
//! taken for ours (that would mark an unsent order `placed`).

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

use super::private::OrderFilter;
use crate::exchange::OrderRequest;
use crate::pairs::PairInfo;

/// The `(txid, status)` of our order in the `key` map (`open` / `closed`) of a
/// `method` result; `Ok(None)` if absent, `Err` if several entries match.
pub fn find_in(
    result: &Value,
    method: &str,
    key: &str,
    order: &OrderRequest,
    filter: OrderFilter,
) -> Result<Option<(String, String)>, String> {
    let empty = Map::new();
    let map = result.get(key).and_then(Value::as_object).unwrap_or(&empty);
    let mut matches = map
        .iter()
        .filter(|(_, entry)| is_our_order(entry, order, filter))
        .map(|(txid, entry)| {
            let state = entry.get("status").and_then(Value::as_str).unwrap_or(key);
            (txid.clone(), state.to_owned())
        })
        .collect::<Vec<_>>();
    match matches.len() {
        0 | 1 => Ok(matches.pop()),
        n => Err(format!("{n} orders in {method} match this order")),
    }
}

/// Whether a Kraken order entry is `order`. Never trusts the filter alone: were Kraken
/// to ignore it, some other order would otherwise be taken for ours.
pub fn is_our_order(entry: &Value, order: &OrderRequest, filter: OrderFilter) -> bool {
    let field = |name: &str| entry.get(name);
    let descr = |name: &str| {
        entry
            .get("descr")
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
    };
    match filter {
        OrderFilter::ClOrdId(id) => field("cl_ord_id")
            .and_then(Value::as_str)
            .is_some_and(|c| c.eq_ignore_ascii_case(&id.to_string())),
        OrderFilter::Userref(n) => {
            // A userref is only 32 bits, so over a long history two of our orders
            // can share one: everything else Kraken shows must be ours too.
            let userref =
                field("userref").and_then(|u| u.as_i64().or_else(|| u.as_str()?.parse().ok()));
            let pair_ok = descr("pair").is_none_or(|p| same_pair(p, &order.pair));
            let side_ok = descr("type").is_none_or(|t| t == order.side.as_str());
            let type_ok = descr("ordertype").is_none_or(|t| t == order.order_type.as_str());
            let sent_volume = order
                .volume
                .round_dp_with_strategy(order.pair.lot_decimals, RoundingStrategy::ToZero);
            let volume_ok = field("vol")
                .and_then(decimal)
                .is_none_or(|v| v == sent_volume);
            let opened_ok = field("opentm")
                .and_then(Value::as_f64)
                .is_none_or(|at| opened_in_time(at, order));
            userref == Some(i64::from(n)) && pair_ok && side_ok && type_ok && volume_ok && opened_ok
        }
        OrderFilter::All => false,
    }
}

/// How far Kraken's clock may be from ours when judging `opentm`.
const CLOCK_SKEW_SECS: f64 = 60.0;
/// Kraken's largest `deadline` offset: no order is sent longer before its deadline.
const MAX_DEADLINE_SECS: f64 = 60.0;

/// Whether an order opened at `opentm` (Kraken's unix seconds) can be `order`: it was
/// sent at most a minute before its deadline and accepted before it.
fn opened_in_time(opentm: f64, order: &OrderRequest) -> bool {
    let deadline = order.deadline.timestamp_millis() as f64 / 1000.0;
    let earliest = deadline - MAX_DEADLINE_SECS - CLOCK_SKEW_SECS;
    let latest = deadline + CLOCK_SKEW_SECS;
    (earliest..=latest).contains(&opentm)
}

/// A decimal Kraken sent as a string (`"1.25000000"`) or a number.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

fn same_pair(name: &str, pair: &PairInfo) -> bool {
    let name = name.replace('/', "");
    [&pair.altname, &pair.id]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&name))
        || pair
            .wsname
            .as_ref()
            .is_some_and(|ws| ws.replace('/', "").eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn an_order_is_found_by_its_cl_ord_id_only() {
        let order = OrderRequest::example();
        let id = order.client_order_id.to_string();
        let result = json!({"open": {
            "OTHER1": {"cl_ord_id": Uuid::new_v4().to_string(), "status": "open"},
            "OURS01": {"cl_ord_id": id, "status": "open"},
        }});
        let filter = OrderFilter::ClOrdId(order.client_order_id);
        let found = find_in(&result, "OpenOrders", "open", &order, filter).unwrap();
        assert_eq!(found, Some(("OURS01".into(), "open".into())));
    }

    #[test]
    fn entries_of_other_orders_are_never_taken_for_ours() {
        let order = OrderRequest::example();
        let result = json!({"open": {"OTHER1": {"status": "open"}}});
        let filter = OrderFilter::ClOrdId(order.client_order_id);
        assert_eq!(
            find_in(&result, "OpenOrders", "open", &order, filter),
            Ok(None)
        );
    }

    #[test]
    fn a_userref_match_must_also_have_our_pair_and_side() {
        let order = OrderRequest::example();
        let entry = |pair: &str, side: &str| json!({"userref": 7, "status": "closed", "descr": {"pair": pair, "type": side}});
        let filter = OrderFilter::Userref(7);
        let ours = json!({"closed": {"A": entry("XBTUSD", "buy"), "B": entry("ETHUSD", "buy"),
                                     "C": entry("XBTUSD", "sell")}});
        let found = find_in(&ours, "ClosedOrders", "closed", &order, filter).unwrap();
        assert_eq!(found, Some(("A".into(), "closed".into())));
        let twice = json!({"closed": {"A": entry("XBTUSD", "buy"), "B": entry("XBT/USD", "buy")}});
        assert!(find_in(&twice, "ClosedOrders", "closed", &order, filter).is_err());
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
            let result = json!({"closed": {"OURS": ours, "OTHER": other}});
            assert_eq!(
                find_in(&result, "ClosedOrders", "closed", &order, filter),
                Ok(Some(("OURS".into(), "closed".into()))),
                "{what}"
            );
        }
    }
}
