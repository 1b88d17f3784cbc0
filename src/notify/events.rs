//! What is worth telling: the event kinds, and the one pure function that turns what
//! the writer decided (an order's new status, the kill switch flipping) into outbox
//! rows for the channels that want them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::outbox::{OutboxRow, KILL_SWITCH};
use super::routes::Routes;
use crate::risk::Halt;
use crate::store::orders::OrderRecord;

/// A kind of notification (the `type` of a webhook body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SignalRejected,
    OrderPlaced,
    OrderFilled,
    OrderPartiallyFilled,
    OrderFailed,
    OrderExpired,
    OrderCanceled,
    OrderUnknown,
    Halted,
    Resumed,
    Startup,
    Shutdown,
    DailySummary,
    /// Sent by `tradehook notify test`; every channel takes it.
    Test,
}

impl EventKind {
    /// Every kind a channel can subscribe to.
    pub const ALL: [EventKind; 13] = [
        EventKind::SignalRejected,
        EventKind::OrderPlaced,
        EventKind::OrderFilled,
        EventKind::OrderPartiallyFilled,
        EventKind::OrderFailed,
        EventKind::OrderExpired,
        EventKind::OrderCanceled,
        EventKind::OrderUnknown,
        EventKind::Halted,
        EventKind::Resumed,
        EventKind::Startup,
        EventKind::Shutdown,
        EventKind::DailySummary,
    ];

    /// The snake-case name used in the config, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignalRejected => "signal_rejected",
            EventKind::OrderPlaced => "order_placed",
            EventKind::OrderFilled => "order_filled",
            EventKind::OrderPartiallyFilled => "order_partially_filled",
            EventKind::OrderFailed => "order_failed",
            EventKind::OrderExpired => "order_expired",
            EventKind::OrderCanceled => "order_canceled",
            EventKind::OrderUnknown => "order_unknown",
            EventKind::Halted => "halted",
            EventKind::Resumed => "resumed",
            EventKind::Startup => "startup",
            EventKind::Shutdown => "shutdown",
            EventKind::DailySummary => "daily_summary",
            EventKind::Test => "test",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .chain([EventKind::Test])
            .find(|kind| kind.as_str() == name)
    }

    /// Whether its `data` is an order record.
    pub fn is_order_event(self) -> bool {
        matches!(
            self,
            EventKind::SignalRejected
                | EventKind::OrderPlaced
                | EventKind::OrderFilled
                | EventKind::OrderPartiallyFilled
                | EventKind::OrderFailed
                | EventKind::OrderExpired
                | EventKind::OrderCanceled
                | EventKind::OrderUnknown
        )
    }
}

/// Which status, once committed, is reported as which event. Statuses are matched by
/// name, so a status added to the life cycle (the fill tracking's `partially_filled`,
/// `filled`, `canceled`) is reported as soon as it exists; a new one is one line here.
/// `pending` and `unknown` are not final and are not reported on their own
/// (`order_unknown` is raised by a timer when an order stays unsettled).
const STATUS_EVENTS: &[(&str, EventKind)] = &[
    ("rejected", EventKind::SignalRejected),
    ("placed", EventKind::OrderPlaced),
    ("validated", EventKind::OrderPlaced),
    ("failed", EventKind::OrderFailed),
    ("expired", EventKind::OrderExpired),
    ("partially_filled", EventKind::OrderPartiallyFilled),
    ("filled", EventKind::OrderFilled),
    ("canceled", EventKind::OrderCanceled),
];

/// The event reporting that an order reached `status`, if any.
pub fn for_status(status: &str) -> Option<EventKind> {
    STATUS_EVENTS
        .iter()
        .find(|(name, _)| *name == status)
        .map(|(_, kind)| *kind)
}

/// What one write of the writer decided, as far as notifications care.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// The order recorded or changed by the write, in its new state.
    pub order: Option<&'a OrderRecord>,
    /// The kill switch before the write.
    pub halt_before: Option<&'a Halt>,
    /// The kill switch after the write.
    pub halt_after: Option<&'a Halt>,
}

/// The outbox rows reporting `decided`, one per channel that wants each event. Pure.
pub fn for_change(routes: &Routes, decided: &Decided<'_>, now: DateTime<Utc>) -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    if routes.is_empty() {
        return rows;
    }
    if let Some(order) = decided.order {
        if let Some(kind) = for_status(order.status.as_str()) {
            rows.extend(routes.rows_for_order(kind, order, None, now));
        }
    }
    match (decided.halt_before, decided.halt_after) {
        (None, Some(halt)) => {
            let data = json!({ "reason": halt.reason, "since": halt.since });
            rows.extend(routes.rows(EventKind::Halted, data, Some(KILL_SWITCH), None, now));
        }
        (Some(halt), None) => {
            let data = json!({
                "by": "admin",
                "halted_since": halt.since,
                "halt_reason": halt.reason,
            });
            rows.extend(routes.rows(EventKind::Resumed, data, Some(KILL_SWITCH), None, now));
        }
        _ => {}
    }
    rows
}

/// The `data` of an order event: the order record as the API returns it.
pub fn order_data(order: &OrderRecord) -> Value {
    serde_json::to_value(order).unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
