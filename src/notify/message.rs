//! What a human reads: a notification as a title and a few labelled lines (pair, side,
//! volume, price, status, strategy and source; the error or the refusal; for fills the
//! average price and fee), which each chat channel renders its own way. Built only
//! from the notification's `data`, which never holds a secret. Pure.

use serde_json::Value;

use super::events::EventKind;

/// How the news is: colours and emoji follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Neutral,
}

/// A notification for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    /// Labelled lines, in reading order; empty values are left out.
    pub fields: Vec<(String, String)>,
    pub tone: Tone,
}

/// The text of a JSON value: strings without quotes, `null` as empty.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn title_and_tone(kind: EventKind) -> (&'static str, Tone) {
    match kind {
        EventKind::SignalRejected => ("Signal rejected", Tone::Bad),
        EventKind::OrderPlaced => ("Order placed", Tone::Good),
        EventKind::OrderFilled => ("Order filled", Tone::Good),
        EventKind::OrderPartiallyFilled => ("Order partially filled", Tone::Good),
        EventKind::OrderFailed => ("Order failed", Tone::Bad),
        EventKind::OrderExpired => ("Order expired", Tone::Bad),
        EventKind::OrderCanceled => ("Order canceled", Tone::Neutral),
        EventKind::OrderUnknown => ("Order still unsettled", Tone::Bad),
        EventKind::Halted => ("Trading halted", Tone::Bad),
        EventKind::Resumed => ("Trading resumed", Tone::Good),
        EventKind::Startup => ("tradehook started", Tone::Neutral),
        EventKind::Shutdown => ("tradehook stopped", Tone::Neutral),
        EventKind::DailySummary => ("Daily summary", Tone::Neutral),
        EventKind::Test => ("Test notification", Tone::Neutral),
    }
}

/// The message for an event of `kind` with `data`.
pub fn render(kind: EventKind, data: &Value) -> Message {
    let (title, tone) = title_and_tone(kind);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut add = |label: &str, value: String| {
        if !value.is_empty() {
            fields.push((label.to_owned(), value));
        }
    };
    let mut title = title.to_owned();
    if kind.is_order_event() {
        let side = text(&data["side"]);
        let pair = text(&data["pair"]);
        title = format!("{title}: {} {pair}", side.to_uppercase());
        add("Pair", pair);
        add("Side", side);
        add("Type", text(&data["order_type"]));
        add("Volume", text(&data["volume"]));
        add("Price", text(&data["price"]));
        add("Avg price", text(&data["avg_price"]));
        add("Filled", text(&data["filled_volume"]));
        let fee = format!("{} {}", text(&data["fee"]), text(&data["fee_currency"]));
        add("Fee", fee.trim().to_owned());
        add("Status", text(&data["status"]));
        add("Strategy", text(&data["strategy"]));
        add("Source", text(&data["source"]));
        add("Error", text(&data["error"]));
        add("Reasons", reasons(&data["reasons"]));
        add(
            "Unsettled for",
            text(&data["unsettled_secs"]).replace('"', ""),
        );
        add("Order", text(&data["client_order_id"]));
        add("Txid", text(&data["txid"]));
    } else if let Value::Object(map) = data {
        for (key, value) in map {
            let value = match value {
                Value::Object(_) | Value::Array(_) => compact(value),
                other => text(other),
            };
            add(&label(key), value);
        }
    }
    Message {
        title,
        fields,
        tone,
    }
}

/// Risk refusals `[{rule, detail}]` as `rule: detail; …`.
fn reasons(value: &Value) -> String {
    let Value::Array(items) = value else {
        return String::new();
    };
    items
        .iter()
        .map(|item| {
            let (rule, detail) = (text(&item["rule"]), text(&item["detail"]));
            if detail.is_empty() {
                rule
            } else {
                format!("{rule}: {detail}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A nested value on one line: `key value, key value` for objects.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k} {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => items.iter().map(compact).collect::<Vec<_>>().join(", "),
        other => text(other),
    }
}

/// `halt_reason` → `Halt reason`.
fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_message_names_pair_side_volume_price_status_strategy_and_source() {
        let data = json!({
            "pair": "XBTUSD", "side": "buy", "order_type": "limit", "volume": "0.5",
            "price": "50000", "status": "placed", "strategy": "breakout", "source": "tv",
            "client_order_id": "0190a0b0-0000-7000-8000-000000000001", "error": null
        });
        let message = render(EventKind::OrderPlaced, &data);
        assert_eq!(message.title, "Order placed: BUY XBTUSD");
        let labels: Vec<&str> = message.fields.iter().map(|(l, _)| l.as_str()).collect();
        for expected in [
            "Pair", "Side", "Volume", "Price", "Status", "Strategy", "Source",
        ] {
            assert!(labels.contains(&expected), "{labels:?}");
        }
        assert!(!labels.contains(&"Error"), "empty values are left out");
    }

    #[test]
    fn a_fill_shows_its_average_price_and_fee_with_its_currency() {
        let data = json!({"pair": "XBTUSD", "side": "buy", "status": "filled",
            "filled_volume": "0.5", "avg_price": "50010.5", "fee": "10.2", "fee_currency": "USD"});
        let message = render(EventKind::OrderFilled, &data);
        let field = |label: &str| {
            message
                .fields
                .iter()
                .find(|(l, _)| l == label)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(field("Avg price"), "50010.5");
        assert_eq!(field("Filled"), "0.5");
        assert_eq!(field("Fee"), "10.2 USD");
        assert_eq!(message.title, "Order filled: BUY XBTUSD");
    }

    #[test]
    fn a_rejection_lists_its_reasons() {
        let data = json!({"pair": "XBTUSD", "side": "sell", "reasons": [
            {"rule": "max_order_volume", "detail": "2 > 1"}, {"rule": "halt"}]});
        let message = render(EventKind::SignalRejected, &data);
        let reasons = message.fields.iter().find(|(l, _)| l == "Reasons").unwrap();
        assert_eq!(reasons.1, "max_order_volume: 2 > 1; halt");
        assert_eq!(message.tone, Tone::Bad);
    }

    #[test]
    fn other_events_show_their_data_as_labelled_lines() {
        let message = render(EventKind::Halted, &json!({"reason": "admin: maintenance"}));
        assert_eq!(
            message.fields,
            vec![("Reason".into(), "admin: maintenance".into())]
        );
    }

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo wörld", 5), "héll…");
    }
}
