//! A status change planned by the writer: the order's new status and its audit event,
//! the circuit breaker's count, and — when the breaker trips — the halt, all written
//! with the batch; the in-memory risk state follows at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{EventText, Plan};
use super::claim::facts;
use super::control_ops;
use super::orders::{Change, ChangeError, OrderRecord};
use crate::order::{transition, OrderStatus};
use crate::risk::breaker::{trips, Effect};
use crate::risk::ledger::RiskLedger;

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

/// Applies `status_change` to `current` (the orders read for this batch, kept up to
/// date as changes are planned), the ledger and the plan; returns the new record.
/// Nothing is planned when the change is refused. Pure: no I/O.
pub fn plan(
    plan: &mut Plan,
    ledger: &mut RiskLedger,
    current: &mut HashMap<Uuid, OrderRecord>,
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
    let order = current
        .get_mut(client_order_id)
        .ok_or(ChangeError::NotFound(*client_order_id))?;
    let from = order.status;
    let to = transition(from, *to)?;
    order.status = to;
    order.txid = change.txid.clone().or(order.txid.take());
    order.error = change.error.clone().or(order.error.take());
    order.deadline = change.deadline.or(order.deadline);
    order.resends += i64::from(change.resend);
    order.updated_at = now;
    let record = order.clone();
    plan.update(record.clone());
    plan.event(record.id, to, event_text(change), now);
    ledger.on_change(&facts(&record), from, to, now);
    match effect {
        Effect::None => {}
        Effect::Reset => {
            ledger.set_failures(0);
            plan.failures = Some(0);
        }
        Effect::Failure => {
            let count = ledger.failures().saturating_add(1);
            ledger.set_failures(count);
            plan.failures = Some(count);
            if trips(count, *breaker_limit) {
                let reason = format!(
                    "circuit breaker: {count} consecutive exchange failures; last: {}",
                    change.cause
                );
                if control_ops::halt(plan, ledger, &reason, now) {
                    tracing::error!(%reason, "trading halted");
                    let text = EventText {
                        cause: reason,
                        ..EventText::default()
                    };
                    plan.event(record.id, record.status, text, now);
                }
            }
        }
    }
    Ok(record)
}

fn event_text(change: &Change) -> EventText {
    EventText {
        cause: change.cause.clone(),
        request: change.request.clone(),
        response: change.response.clone(),
        elapsed: change.elapsed,
    }
}

/// One change as a batch of its own, written on `conn` (no transaction): for tests of
/// what the writer does.
#[cfg(test)]
pub(crate) async fn apply(
    conn: &mut sqlx::SqliteConnection,
    ledger: &mut RiskLedger,
    status_change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<OrderRecord, ChangeError> {
    let mut known = super::batch::find_many(conn, &[status_change.client_order_id]).await?;
    let mut batch = Plan::default();
    let record = plan(&mut batch, ledger, &mut known, status_change, now)?;
    batch.write(conn, now).await?;
    Ok(record)
}
