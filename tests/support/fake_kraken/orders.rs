//! The fake Kraken's order book: `AddOrder` (with scripted behaviours), lookups by
//! `cl_ord_id`/`userref`, `QueryOrders` and `CancelOrder`.

use std::str::FromStr;
use std::time::Instant;

use axum::response::Response;
use chrono::DateTime;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::handlers::{field, html, ok, redirect, refuse, Form};
use super::{Behaviour, ConnectionKill, FakeOrder, Shared, State};

/// Checks an order's fields; the Kraken error for the first problem found.
pub(super) fn check(state: &State, form: &Form) -> Result<(String, FakeOrder), &'static str> {
    let pair = field(form, "pair")
        .and_then(|p| state.pairs.get(p))
        .ok_or("EQuery:Unknown asset pair")?;
    let side = field(form, "type")
        .filter(|t| ["buy", "sell"].contains(t))
        .ok_or("EGeneral:Invalid arguments:type")?;
    let ordertype = field(form, "ordertype").ok_or("EGeneral:Invalid arguments:ordertype")?;
    let volume = field(form, "volume")
        .and_then(|v| Decimal::from_str(v).ok())
        .filter(|v| *v > Decimal::ZERO)
        .ok_or("EGeneral:Invalid arguments:volume")?;
    let cl_ord_id = field(form, "cl_ord_id").map(str::to_owned);
    if cl_ord_id.is_some() && field(form, "close[ordertype]").is_some() {
        return Err("EGeneral:Invalid arguments:cl_ord_id is not supported with close orders");
    }
    let userref = match field(form, "userref") {
        Some(u) => Some(
            u.parse::<i64>()
                .map_err(|_| "EGeneral:Invalid arguments:userref")?,
        ),
        None => None,
    };
    if let Some(deadline) = field(form, "deadline") {
        let deadline = DateTime::parse_from_rfc3339(deadline)
            .map_err(|_| "EGeneral:Invalid arguments:deadline")?;
        // Judged on the fake's own (possibly skewed) clock, as Kraken's engine does.
        if deadline < state.now() {
            return Err("EService:Deadline elapsed");
        }
        if deadline > state.now() + chrono::Duration::seconds(61) {
            return Err("EGeneral:Invalid arguments:deadline");
        }
    }
    let duplicate = state
        .orders
        .iter()
        .any(|o| o.status == "open" && cl_ord_id.is_some() && o.cl_ord_id == cl_ord_id);
    if duplicate {
        return Err("EOrder:Duplicate cl_ord_id");
    }
    let txid = format!("O{:05}-FAKE0-KRAKEN", state.orders.len() + 1);
    let status = if ordertype == "market" {
        "closed"
    } else {
        "open"
    };
    let order = FakeOrder {
        txid: txid.clone(),
        cl_ord_id,
        userref,
        pair: pair.altname.clone(),
        side: side.to_owned(),
        ordertype: ordertype.to_owned(),
        volume: volume.to_string(),
        price: field(form, "price").map(str::to_owned),
        status: status.to_owned(),
        form: form.clone(),
        opened_ms: state.now().timestamp_millis(),
        visible_from: Instant::now(),
    };
    Ok((txid, order))
}

pub(super) async fn add_order(shared: &Shared, form: &Form, kill: ConnectionKill) -> Response {
    let behaviour = shared.state().script.pop_front();
    match &behaviour {
        Some(Behaviour::Refuse(error)) => return refuse(error),
        Some(Behaviour::ServerErrorHtml(status)) => return html(*status),
        Some(Behaviour::Redirect(status)) => return redirect(*status),
        Some(Behaviour::Blackhole) => return std::future::pending::<Response>().await,
        _ => {}
    }
    let mut release = shared.release.subscribe();
    let (txid, descr) = {
        // One lock from check to insert, so concurrent duplicates are caught.
        let mut state = shared.state();
        let (txid, mut order) = match check(&state, form) {
            Ok(accepted) => accepted,
            Err(error) => return refuse(error),
        };
        let descr = format!(
            "{} {} {} @ {}",
            order.side, order.volume, order.pair, order.ordertype
        );
        if field(form, "validate") == Some("true") {
            return ok(json!({"descr": {"order": descr}}));
        }
        if let Some(
            Behaviour::AcceptInvisibleFor(hidden) | Behaviour::AcceptInvisibleThen502(hidden),
        ) = &behaviour
        {
            order.visible_from = Instant::now() + *hidden;
        }
        state.orders.push(order);
        (txid, descr)
    };
    let answer = ok(json!({"descr": {"order": descr}, "txid": [txid]}));
    match behaviour {
        Some(Behaviour::AcceptThen502 | Behaviour::AcceptInvisibleThen502(_)) => html(502),
        Some(Behaviour::AcceptThenDrop) => {
            kill.0.notify_one();
            std::future::pending::<Response>().await
        }
        Some(Behaviour::AcceptThenDelay(delay)) => {
            tokio::time::sleep(delay).await;
            answer
        }
        Some(Behaviour::AcceptThenHold) => {
            let _held = Held::new(shared);
            let _ = release.changed().await;
            answer
        }
        _ => answer,
    }
}

fn entry(order: &FakeOrder) -> Value {
    json!({
        "refid": null,
        "userref": order.userref,
        "cl_ord_id": order.cl_ord_id,
        "status": order.status,
        "opentm": order.opened_ms as f64 / 1000.0,
        "vol": order.volume,
        "vol_exec": if order.status == "closed" { order.volume.as_str() } else { "0" },
        "descr": {"pair": order.pair, "type": order.side, "ordertype": order.ordertype,
                  "price": order.price.clone().unwrap_or_else(|| "0".into())},
    })
}

/// Kraken's page size for `ClosedOrders`.
const PAGE: usize = 50;

/// `OpenOrders` / `ClosedOrders`, filtered by `cl_ord_id` or `userref` like Kraken.
/// Closed orders come newest first, 50 a page from `ofs`, opened after `start` (the
/// fake keeps no closing time, so every `closetime` uses the opening time), with the
/// `count` of all that match.
pub(super) fn list(shared: &Shared, form: &Form, open: bool) -> Response {
    let state = shared.state();
    let now = Instant::now();
    let cl_ord_id = field(form, "cl_ord_id");
    let userref = field(form, "userref").and_then(|u| u.parse::<i64>().ok());
    let start_ms = field(form, "start")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| s * 1000);
    let ofs = field(form, "ofs")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let mut matching: Vec<&FakeOrder> = state
        .orders
        .iter()
        .filter(|o| o.visible_from <= now && (o.status == "open") == open)
        .filter(|o| cl_ord_id.is_none_or(|c| o.cl_ord_id.as_deref() == Some(c)))
        .filter(|o| userref.is_none_or(|u| o.userref == Some(u)))
        .filter(|o| open || start_ms.is_none_or(|start| o.opened_ms > start))
        .collect();
    if open {
        let orders: Map<String, Value> = matching
            .iter()
            .map(|o| (o.txid.clone(), entry(o)))
            .collect();
        return ok(json!({"open": orders}));
    }
    matching.sort_by(|a, b| b.opened_ms.cmp(&a.opened_ms).then(b.txid.cmp(&a.txid)));
    let count = matching.len();
    let page: Map<String, Value> = matching
        .iter()
        .skip(ofs)
        .take(PAGE)
        .map(|o| (o.txid.clone(), entry(o)))
        .collect();
    ok(json!({"count": count, "closed": page}))
}

pub(super) fn query_orders(shared: &Shared, form: &Form) -> Response {
    let state = shared.state();
    let wanted: Vec<&str> = field(form, "txid").unwrap_or("").split(',').collect();
    let found: Map<String, Value> = state
        .orders
        .iter()
        .filter(|o| wanted.contains(&o.txid.as_str()))
        .map(|o| (o.txid.clone(), entry(o)))
        .collect();
    ok(Value::Object(found))
}

pub(super) fn cancel(shared: &Shared, form: &Form) -> Response {
    let mut state = shared.state();
    let id = field(form, "txid")
        .or_else(|| field(form, "cl_ord_id"))
        .unwrap_or("");
    let order = state
        .orders
        .iter_mut()
        .find(|o| o.status == "open" && (o.txid == id || o.cl_ord_id.as_deref() == Some(id)));
    match order {
        Some(order) => {
            order.status = "canceled".into();
            ok(json!({"count": 1}))
        }
        None => refuse("EOrder:Unknown order"),
    }
}

/// Counts a held answer for as long as it is held, even if the client goes away
/// and the handler is dropped.
struct Held<'a>(&'a Shared);

impl<'a> Held<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.state().held += 1;
        Held(shared)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.state().held -= 1;
    }
}
