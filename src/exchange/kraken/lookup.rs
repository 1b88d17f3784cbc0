//! Recognising our order in Kraken's `OpenOrders`/`ClosedOrders` answers.
//!
//! The request is filtered by `cl_ord_id` (or `userref`), but each entry is checked
//! again here: were Kraken ever to ignore the filter, another order must never be
//! taken for ours (that would mark an unsent order `placed`).

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
            let userref =
                field("userref").and_then(|u| u.as_i64().or_else(|| u.as_str()?.parse().ok()));
            let pair_ok = descr("pair").is_none_or(|p| same_pair(p, &order.pair));
            let side_ok = descr("type").is_none_or(|t| t == order.side.as_str());
            userref == Some(i64::from(n)) && pair_ok && side_ok
        }
        OrderFilter::All => false,
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
}
