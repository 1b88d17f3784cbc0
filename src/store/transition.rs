//! A status change applied by the writer: the order's new status and its audit event,
//! the circuit breaker's count, and — when the breaker trips — the halt, all in the
//! batch's transaction; then the in-memory risk state follows.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::claim::facts;
use super::events::{self, NewEvent};
use super::orders::{self, Change, ChangeError, OrderRecord};
use crate::order::OrderStatus;
use crate::risk::breaker::{trips, Effect};
use crate::risk::ledger::RiskLedger;
use crate::risk::{control, Halt};

/// A status change as the executor asks for it.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub client_order_id: Uuid,
    pub to: OrderStatus,
    pub change: Change,
    /// What it does to the circuit breaker's count.
    pub effect: Effect,
    /// `risk.max_consecutive_exchange_failures`: the count that halts trading.
    pub breaker_limit: Option<u32>,
}

/// Applies `status_change` inside the writer's transaction. The ledger is updated only
/// once every statement has succeeded.
pub async fn apply(
    conn: &mut SqliteConnection,
    ledger: &mut RiskLedger,
    status_change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<OrderRecord, ChangeError> {
    let StatusChange {
        client_order_id,
        to,
        change,
        effect,
        breaker_limit,
    } = status_change;
    let (from, record) = orders::change_status(conn, *client_order_id, *to, change, now).await?;
    let mut failures = None;
    let mut tripped = None;
    match effect {
        Effect::None => {}
        Effect::Reset => {
            control::reset_failures(conn, now).await?;
            failures = Some(0);
        }
        Effect::Failure => {
            let count = control::record_failure(conn, now).await?;
            failures = Some(count);
            if trips(count, *breaker_limit) && ledger.halt().is_none() {
                let reason = format!(
                    "circuit breaker: {count} consecutive exchange failures; last: {}",
                    change.cause
                );
                if control::halt(conn, &reason, now).await? {
                    let event = NewEvent {
                        cause: &reason,
                        ..NewEvent::default()
                    };
                    events::append(conn, record.id, record.status, &event, now).await?;
                    tracing::error!(%reason, "trading halted");
                    tripped = Some(Halt { reason, since: now });
                }
            }
        }
    }
    ledger.on_change(&facts(&record), from, *to, now);
    if let Some(count) = failures {
        ledger.set_failures(count);
    }
    if tripped.is_some() {
        ledger.set_halt(tripped);
    }
    Ok(record)
}
