//! The WebSocket v2 `add_order` request and its answer, as Kraken documents them
//! (docs.kraken.com, WebSocket v2 "Add Order"): `method: add_order`, a `req_id`
//! echoed in the answer, and `params` with `symbol` (the pair's `wsname`, `BTC/USD`),
//! `side`, `order_type`, `order_qty`, `limit_price`, `triggers.price`,
//! `time_in_force`, `post_only`, `reduce_only`, `cl_ord_id` or `order_userref`,
//! `deadline`, `validate`, a `conditional` close, and the session `token` (no nonce).
//! The answer is `{"method":"add_order","req_id":..,"success":true,"result":{"order_id":..}}`
//! or `success: false` with Kraken's `error` string.
//!
//! The request is built from the REST form ([`super::order_form`]), so rounding to
//! the pair's precision and the `cl_ord_id`/`userref` choice are the same on both
//! transports. Numbers are JSON numbers carrying the form's exact decimal text
//! (serde_json's `arbitrary_precision`), never an `f64`.

use std::str::FromStr;

use serde_json::{Map, Number, Value};

use super::order_form::{Field, FormError};
use crate::exchange::OrderRequest;
use crate::pairs::PairInfo;

/// A decimal of the form as a JSON number with the same text.
fn number(name: &str, text: &str) -> Result<Value, FormError> {
    Number::from_str(text)
        .map(Value::Number)
        .map_err(|_| FormError(format!("{name} `{text}` is not a number")))
}

fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether an order type's `price` is a trigger (stop / take-profit / trailing).
fn triggered(order_type: &str) -> bool {
    order_type != "limit" && order_type != "market"
}

/// Puts a REST-style `price`/`price2` pair into `params` as Kraken v2 names them:
/// a limit order's price is `limit_price`; a triggered order's `price` is the
/// trigger and its `price2` the limit of a `*-limit` type.
fn prices(
    params: &mut Map<String, Value>,
    order_type: &str,
    price: Option<&str>,
    price2: Option<&str>,
    trigger_key: &str,
) -> Result<(), FormError> {
    if let Some(price) = price {
        if triggered(order_type) {
            let value = number("price", price)?;
            if trigger_key == "triggers" {
                let mut trigger = Map::new();
                trigger.insert("price".into(), value);
                params.insert("triggers".into(), Value::Object(trigger));
            } else {
                params.insert(trigger_key.into(), value);
            }
        } else {
            params.insert("limit_price".into(), number("price", price)?);
        }
    }
    if let Some(price2) = price2 {
        params.insert("limit_price".into(), number("price2", price2)?);
    }
    Ok(())
}

/// The pair as WebSocket v2 names it: `AssetPairs`' `wsname` (`XBT/USD`) with the
/// readable asset names v2 uses (`BTC/USD`, `DOGE/USD`), else the altname.
pub fn v2_symbol(pair: &PairInfo) -> String {
    let Some(wsname) = pair.wsname.as_deref() else {
        return pair.altname.clone();
    };
    wsname
        .split('/')
        .map(|asset| match asset {
            "XBT" => "BTC",
            "XDG" => "DOGE",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `add_order` message for `order` (its REST `fields`, already formatted),
/// with `token` and `req_id`. Leverage has no v2 spot equivalent (only `margin`),
/// so such an order is refused here rather than sent differently from REST.
pub fn add_order_message(
    order: &OrderRequest,
    fields: &[Field],
    token: &str,
    req_id: u64,
) -> Result<Value, FormError> {
    if order.leverage.is_some() {
        return Err(FormError(
            "leverage is not available over exchange.transport = \"websocket\"; use \"rest\""
                .into(),
        ));
    }
    let required = |name: &str| {
        get(fields, name).ok_or_else(|| FormError(format!("the order form has no `{name}`")))
    };
    let order_type = required("ordertype")?;
    let mut params = Map::new();
    params.insert("order_type".into(), order_type.into());
    params.insert("side".into(), required("type")?.into());
    params.insert("order_qty".into(), number("volume", required("volume")?)?);
    params.insert("symbol".into(), v2_symbol(&order.pair).into());
    prices(
        &mut params,
        order_type,
        get(fields, "price"),
        get(fields, "price2"),
        "triggers",
    )?;
    if let Some(tif) = get(fields, "timeinforce") {
        params.insert("time_in_force".into(), tif.to_ascii_lowercase().into());
    }
    if get(fields, "oflags") == Some("post") {
        params.insert("post_only".into(), true.into());
    }
    if get(fields, "reduce_only") == Some("true") {
        params.insert("reduce_only".into(), true.into());
    }
    if let Some(close_type) = get(fields, "close[ordertype]") {
        let mut conditional = Map::new();
        conditional.insert("order_type".into(), close_type.into());
        prices(
            &mut conditional,
            close_type,
            get(fields, "close[price]"),
            get(fields, "close[price2]"),
            "trigger_price",
        )?;
        params.insert("conditional".into(), Value::Object(conditional));
    }
    if let Some(id) = get(fields, "cl_ord_id") {
        params.insert("cl_ord_id".into(), id.into());
    }
    if let Some(userref) = get(fields, "userref") {
        params.insert("order_userref".into(), number("userref", userref)?);
    }
    params.insert("deadline".into(), required("deadline")?.into());
    if get(fields, "validate") == Some("true") {
        params.insert("validate".into(), true.into());
    }
    params.insert("token".into(), token.into());
    Ok(serde_json::json!({"method": "add_order", "params": params, "req_id": req_id}))
}

/// The request as recorded in the audit trail: the session token left out.
pub fn without_token(message: &Value) -> Value {
    let mut recorded = message.clone();
    if let Some(params) = recorded["params"].as_object_mut() {
        params.remove("token");
    }
    recorded
}

/// What an answer frame says about request `req_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Not an answer to this request (a heartbeat, a status frame, another request).
    Other,
    /// Accepted; Kraken's order id (absent when only validated).
    Accepted(Option<String>),
    /// Refused with Kraken's error string.
    Refused(String),
}

/// Reads one frame as the answer to `req_id`, if it is one.
pub fn answer(frame: &Value, req_id: u64) -> Answer {
    if frame["method"] != "add_order" || frame["req_id"].as_u64() != Some(req_id) {
        return Answer::Other;
    }
    if frame["success"] == true {
        let order_id = frame["result"]["order_id"].as_str().map(str::to_owned);
        Answer::Accepted(order_id)
    } else {
        let error = frame["error"].as_str().unwrap_or("add_order failed");
        Answer::Refused(error.to_owned())
    }
}

#[cfg(test)]
#[path = "ws_order_tests.rs"]
mod tests;
