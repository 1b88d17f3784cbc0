//! Unit tests of the event mapping and the fan-out to channels.

use chrono::Utc;
use uuid::Uuid;

use super::*;
use crate::notify::config::ChannelConfig;
use crate::order::OrderStatus;

fn channel(toml: &str) -> ChannelConfig {
    toml::from_str(toml).unwrap()
}

fn routes() -> Routes {
    Routes::new(&[
        channel("name = \"all\"\nkind = \"slack\"\nurl = \"http://x/\""),
        channel(
            "name = \"rejects\"\nkind = \"slack\"\nurl = \"http://x/\"\n\
             events = [\"signal_rejected\", \"halted\"]\nsources = [\"tv\"]",
        ),
    ])
}

fn order(status: OrderStatus, source: &str) -> OrderRecord {
    let json = serde_json::json!({
        "pair": "XBTUSD", "side": "buy", "order_type": "market", "volume": "1"
    });
    let signal = crate::signal::parse_signal(json.to_string().as_bytes())
        .unwrap()
        .0;
    OrderRecord {
        id: 1,
        client_order_id: Uuid::new_v4(),
        source: source.into(),
        strategy: Some("breakout".into()),
        pair: "XBTUSD".into(),
        side: signal.side,
        order_type: signal.order_type,
        volume: None,
        price: None,
        notional: None,
        status,
        txid: None,
        error: None,
        reasons: serde_json::Value::Array(Vec::new()),
        userref: None,
        deadline: None,
        resends: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        signal,
        content_hash: String::new(),
    }
}

fn decided(order: Option<&OrderRecord>) -> Decided<'_> {
    Decided {
        order,
        halt_before: None,
        halt_after: None,
    }
}

fn summary(rows: &[OutboxRow]) -> Vec<(String, &'static str)> {
    rows.iter()
        .map(|row| (row.channel.clone(), row.event.as_str()))
        .collect()
}

#[test]
fn every_final_status_maps_to_its_event_including_the_fill_statuses() {
    let cases = [
        ("rejected", Some(EventKind::SignalRejected)),
        ("placed", Some(EventKind::OrderPlaced)),
        ("failed", Some(EventKind::OrderFailed)),
        ("expired", Some(EventKind::OrderExpired)),
        ("partially_filled", Some(EventKind::OrderPartiallyFilled)),
        ("filled", Some(EventKind::OrderFilled)),
        ("canceled", Some(EventKind::OrderCanceled)),
        ("pending", None),
        ("unknown", None),
    ];
    for (status, event) in cases {
        assert_eq!(for_status(status), event, "{status}");
    }
}

#[test]
fn a_placed_order_goes_to_the_channels_taking_order_placed() {
    let record = order(OrderStatus::Placed, "hook");
    let rows = for_change(&routes(), &decided(Some(&record)), Utc::now());
    assert_eq!(summary(&rows), vec![("all".into(), "order_placed")]);
    assert_eq!(rows[0].order_key, Some(record.client_order_id.to_string()));
    let data: serde_json::Value = serde_json::from_str(&rows[0].data).unwrap();
    assert_eq!(data["status"], "placed");
    assert_eq!(data["client_order_id"], record.client_order_id.to_string());
}

#[test]
fn a_rejection_goes_only_to_channels_asking_for_it_from_that_source() {
    let from_tv = order(OrderStatus::Rejected, "tv");
    let rows = for_change(&routes(), &decided(Some(&from_tv)), Utc::now());
    assert_eq!(summary(&rows), vec![("rejects".into(), "signal_rejected")]);
    let from_hook = order(OrderStatus::Rejected, "hook");
    assert!(for_change(&routes(), &decided(Some(&from_hook)), Utc::now()).is_empty());
}

#[test]
fn a_pending_order_is_not_reported() {
    let record = order(OrderStatus::Pending, "tv");
    assert!(for_change(&routes(), &decided(Some(&record)), Utc::now()).is_empty());
}

#[test]
fn a_halt_and_a_resume_are_reported_with_the_reason() {
    let halt = Halt {
        reason: "circuit breaker: 3 consecutive exchange failures".into(),
        since: Utc::now(),
    };
    let halted = Decided {
        order: None,
        halt_before: None,
        halt_after: Some(&halt),
    };
    let rows = for_change(&routes(), &halted, Utc::now());
    assert_eq!(
        summary(&rows),
        vec![("all".into(), "halted"), ("rejects".into(), "halted")]
    );
    assert!(rows[0].data.contains("circuit breaker"));
    let resumed = Decided {
        order: None,
        halt_before: Some(&halt),
        halt_after: None,
    };
    let rows = for_change(&routes(), &resumed, Utc::now());
    assert_eq!(summary(&rows), vec![("all".into(), "resumed")]);
}

#[test]
fn each_row_gets_its_own_stable_id() {
    let halt = Halt {
        reason: "admin: x".into(),
        since: Utc::now(),
    };
    let halted = Decided {
        order: None,
        halt_before: None,
        halt_after: Some(&halt),
    };
    let rows = for_change(&routes(), &halted, Utc::now());
    assert_ne!(rows[0].id, rows[1].id);
    assert!(rows.iter().all(|row| row.id.starts_with("msg_")));
}

#[test]
fn no_channel_means_no_row() {
    let record = order(OrderStatus::Placed, "tv");
    let rows = for_change(&Routes::default(), &decided(Some(&record)), Utc::now());
    assert!(rows.is_empty());
}
