//! The fake's book as the WebSocket fake uses it: `add_order` taken into the same
//! book as REST `AddOrder`, and the trade history (`TradesHistory`) filled from the
//! WebSocket fake's trade reports.

use std::time::Instant;

use axum::response::Response;
use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::handlers::{field, ok, Form};
use super::orders::check;
use super::Shared;

/// A number or string of a WebSocket v2 request as form text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Accepts a WebSocket v2 `add_order` (its `params`) into the same book as REST
/// `AddOrder`, so REST lookups find it: the fields are mapped onto the REST form
/// and checked alike. `Ok(None)` when only validated.
pub(crate) fn accept_ws(shared: &Shared, params: &Value) -> Result<Option<String>, String> {
    if let Some(cl_ord_id) = params["cl_ord_id"].as_str() {
        let mut state = shared.state();
        state
            .arrivals
            .entry(cl_ord_id.to_owned())
            .or_insert_with(Instant::now);
    }
    let mut form: Form = Vec::new();
    let symbol = params["symbol"].as_str().unwrap_or("");
    let pair = symbol.replace("BTC", "XBT").replace('/', "");
    form.push(("pair".into(), pair));
    for (ws, rest) in [
        ("side", "type"),
        ("order_type", "ordertype"),
        ("order_qty", "volume"),
        ("cl_ord_id", "cl_ord_id"),
        ("order_userref", "userref"),
        ("deadline", "deadline"),
    ] {
        if let Some(v) = text(&params[ws]) {
            form.push((rest.into(), v));
        }
    }
    if let Some(v) = text(&params["triggers"]["price"]) {
        form.push(("price".into(), v));
        if let Some(limit) = text(&params["limit_price"]) {
            form.push(("price2".into(), limit));
        }
    } else if let Some(v) = text(&params["limit_price"]) {
        form.push(("price".into(), v));
    }
    if let Some(close) = text(&params["conditional"]["order_type"]) {
        form.push(("close[ordertype]".into(), close));
    }
    let mut state = shared.state();
    let (txid, order) = check(&state, &form).map_err(str::to_owned)?;
    if params["validate"] == true {
        return Ok(None);
    }
    state.orders.push(order);
    Ok(Some(txid))
}

/// Lists a WebSocket v2 `trade` report in the trade history `TradesHistory` serves,
/// under its order's txid (found by `cl_ord_id`) and its `exec_id` as trade id.
pub(crate) fn record_trade(shared: &Shared, report: &Value) {
    let mut state = shared.state();
    let cl_ord_id = report["cl_ord_id"].as_str();
    let Some(order) = state
        .orders
        .iter()
        .find(|o| o.cl_ord_id.as_deref() == cl_ord_id)
    else {
        return;
    };
    let pair = state
        .pairs
        .get(&order.pair)
        .map_or(order.pair.clone(), |p| p.id.clone());
    let time = report["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
    let entry = json!({
        "ordertxid": order.txid, "pair": pair, "time": time,
        "type": order.side, "ordertype": order.ordertype,
        "price": text(&report["last_price"]), "vol": text(&report["last_qty"]),
        "cost": text(&report["cost"]), "fee": text(&report["fees"][0]["qty"]),
        "maker": report["liquidity_ind"] == "m",
    });
    let trade_id = report["exec_id"].as_str().unwrap_or("").to_owned();
    state.trades.push((trade_id, entry));
}

/// `TradesHistory`: trades after `start` (unix seconds, exclusive), newest first,
/// 50 from offset `ofs`, with the total in `count`.
pub(super) fn trades_history(shared: &Shared, form: &Form) -> Response {
    let start = field(form, "start")
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    let ofs = field(form, "ofs")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let state = shared.state();
    let matching: Vec<&(String, Value)> = state
        .trades
        .iter()
        .rev()
        .filter(|(_, t)| t["time"].as_f64().unwrap_or(0.0) > start)
        .collect();
    let page: Map<String, Value> = matching
        .iter()
        .skip(ofs)
        .take(50)
        .map(|(id, t)| (id.clone(), t.clone()))
        .collect();
    ok(json!({"trades": page, "count": matching.len()}))
}
