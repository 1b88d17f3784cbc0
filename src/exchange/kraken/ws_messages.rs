//! Kraken WebSocket v2 messages of the `executions` channel, as documented
//! (docs.kraken.com, "Executions"): the subscribe request, and the snapshot and
//! update frames turned into [`ExecutionEvent`]s.
//!
//! Kraken's quirks: `pending_new` comes before `new` (neither changes anything
//! here); a `trade` may say `order_status: partially_filled` although it filled the
//! order, so only `exec_type: filled` completes one. A trade is identified by its
//! `exec_id` (unique per execution; `trade_id` is only unique per pair). Orders
//! without a `cl_ord_id` of ours (a UUID) are foreign: reported by `order_id` so the
//! caller can log them once, never adopted.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::fills::{ExecutionEvent, FillReport, Liquidity};

/// The subscribe request: open orders and the last 50 trades in the snapshot.
pub fn subscribe(token: &str) -> Value {
    json!({
        "method": "subscribe",
        "params": {
            "channel": "executions",
            "token": token,
            "snap_orders": true,
            "snap_trades": true,
        }
    })
}

/// A decimal sent as a JSON number (Kraken's v2 shape) or string. A number is read
/// back from its shortest text form, which is the text Kraken sent for any value of
/// up to 15 significant digits.
fn number<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Decimal>, D::Error> {
    let value = Option::<Value>::deserialize(de)?;
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(serde::de::Error::custom(format!("{other} is not a number"))),
    };
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
}

/// One fee of a trade.
#[derive(Debug, Deserialize)]
struct Fee {
    asset: String,
    #[serde(deserialize_with = "number")]
    qty: Option<Decimal>,
}

/// One entry of an executions frame (only the fields used here).
#[derive(Debug, Deserialize)]
struct Report {
    exec_type: String,
    order_id: Option<String>,
    cl_ord_id: Option<String>,
    exec_id: Option<String>,
    #[serde(default, deserialize_with = "number")]
    last_qty: Option<Decimal>,
    #[serde(default, deserialize_with = "number")]
    last_price: Option<Decimal>,
    liquidity_ind: Option<String>,
    #[serde(default)]
    fees: Vec<Fee>,
    timestamp: Option<DateTime<Utc>>,
    order_status: Option<String>,
    reason: Option<String>,
}

/// What one frame holds.
#[derive(Debug, Default, PartialEq)]
pub struct Frame {
    /// The subscription was refused; Kraken's error.
    pub refused: Option<String>,
    /// The subscription was acknowledged.
    pub subscribed: bool,
    /// A snapshot (sent after every subscribe) rather than an update.
    pub snapshot: bool,
    pub events: Vec<ExecutionEvent>,
    /// `order_id`s of orders that are not ours.
    pub foreign: Vec<String>,
}

/// Parses one text frame; anything that is not about executions is an empty frame.
pub fn parse(text: &str) -> Result<Frame, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut frame = Frame::default();
    if value["method"] == "subscribe" {
        if value["success"] == true {
            frame.subscribed = true;
        } else {
            let error = value["error"].as_str().unwrap_or("subscribe refused");
            frame.refused = Some(error.to_owned());
        }
        return Ok(frame);
    }
    if value["channel"] != "executions" {
        return Ok(frame);
    }
    frame.snapshot = value["type"] == "snapshot";
    let reports: Vec<Report> = serde_json::from_value(value["data"].clone())
        .map_err(|e| format!("executions data: {e}"))?;
    for report in reports {
        let ours = report
            .cl_ord_id
            .as_deref()
            .and_then(|id| id.parse::<Uuid>().ok());
        let Some(client_order_id) = ours else {
            if let Some(order_id) = report.order_id {
                frame.foreign.push(order_id);
            }
            continue;
        };
        events_of(client_order_id, &report, &mut frame.events);
    }
    Ok(frame)
}

fn events_of(client_order_id: Uuid, report: &Report, out: &mut Vec<ExecutionEvent>) {
    let completes = report.exec_type == "filled";
    if let (Some(exec_id), Some(volume), Some(price)) =
        (&report.exec_id, report.last_qty, report.last_price)
    {
        if matches!(report.exec_type.as_str(), "trade" | "filled") {
            let (fee, fee_currency) = report
                .fees
                .first()
                .map_or((Decimal::ZERO, String::new()), |f| {
                    (f.qty.unwrap_or_default(), f.asset.clone())
                });
            out.push(ExecutionEvent::Fill(FillReport {
                client_order_id,
                trade_id: exec_id.clone(),
                volume,
                price,
                fee,
                fee_currency,
                liquidity: if report.liquidity_ind.as_deref() == Some("m") {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
                at: report.timestamp.unwrap_or_else(Utc::now),
                completes: false,
            }));
        }
    }
    let reason = report
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match report.exec_type.as_str() {
        _ if completes => out.push(ExecutionEvent::Completed {
            client_order_id,
            detail: "Kraken reports the order filled (exec_type filled)".into(),
        }),
        "canceled" => out.push(ExecutionEvent::Canceled {
            client_order_id,
            cause: format!("canceled by the exchange{reason}"),
        }),
        "expired" => out.push(ExecutionEvent::Canceled {
            client_order_id,
            cause: format!(
                "canceled: the remainder expired (IOC/GTD, order_status {}){reason}",
                report.order_status.as_deref().unwrap_or("?")
            ),
        }),
        _ => {}
    }
}

#[cfg(test)]
#[path = "ws_messages_tests.rs"]
mod tests;
