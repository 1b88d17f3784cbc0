//! The durable outbox's writes: new notification rows, delivery outcomes and
//! redeliveries, planned by the writer in memory and written in its batch transaction
//! (a fixed number of statements per batch, like the rest of the plan).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::events::EventKind;
use crate::store::{to_millis, StoreError};

/// The ordering key of `halted` and `resumed`: a resume never overtakes its halt.
pub const KILL_SWITCH: &str = "kill_switch";

/// Rows per multi-row statement.
const CHUNK: usize = 400;

/// A notification to store, for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// The stable id receivers deduplicate by (`webhook-id`).
    pub id: String,
    pub channel: String,
    pub event: EventKind,
    /// Rows with the same key go out in the order they were stored: the client order
    /// ID for order events, [`KILL_SWITCH`] for `halted`/`resumed`.
    pub order_key: Option<String>,
    /// A once-only key: a second row with the same channel and key is not stored.
    pub dedupe: Option<String>,
    /// The message's `data`, JSON.
    pub data: String,
    pub created_at: DateTime<Utc>,
    /// Stored only if its order is still unsettled (`pending`/`unknown`) when the
    /// batch is written: an `order_unknown` never follows the order's settlement.
    pub while_unsettled: bool,
}

impl OutboxRow {
    /// A new row with a fresh id.
    pub fn new(
        channel: &str,
        event: EventKind,
        order_key: Option<String>,
        dedupe: Option<String>,
        data: &Value,
        now: DateTime<Utc>,
    ) -> OutboxRow {
        OutboxRow {
            id: format!("msg_{}", Uuid::new_v4().simple()),
            channel: channel.to_owned(),
            event,
            order_key,
            dedupe,
            data: data.to_string(),
            created_at: now,
            while_unsettled: false,
        }
    }
}

/// Where a notification stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Given up after `notifications.give_up_after_secs`.
    Dead,
}

impl DeliveryStatus {
    /// The lower-case name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    /// The status named `name`, if any.
    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    /// `Delivered`, `Dead`, or `Pending` with `next_attempt_at`.
    pub status: DeliveryStatus,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the attempt failed (never a secret).
    pub error: Option<String>,
}

/// An outbox write, sent to the writer as one command.
#[derive(Debug, Clone)]
pub enum OutboxWrite {
    /// Store new notifications (events not caused by an order change: start-up,
    /// shutdown, timers, tests).
    Enqueue(Vec<OutboxRow>),
    /// Record a delivery attempt.
    Record(Outcome),
    /// Deliver the notification with this id again, from now on.
    Redeliver(String),
    /// Delete delivered and dead notifications stored before this time (at most
    /// [`PRUNE_BATCH`] per write).
    Prune(DateTime<Utc>),
}

/// Most notifications one prune deletes: bounds the writer's work per batch.
pub const PRUNE_BATCH: i64 = 5000;

/// The outbox writes of one batch.
#[derive(Debug, Default)]
pub struct OutboxPlan {
    rows: Vec<OutboxRow>,
    outcomes: Vec<Outcome>,
    redeliver: Vec<String>,
    prune: Option<DateTime<Utc>>,
}

impl OutboxPlan {
    /// Adds rows to store.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = OutboxRow>) {
        self.rows.extend(rows);
    }

    /// Adds one command's write.
    pub fn apply(&mut self, write: OutboxWrite) {
        match write {
            OutboxWrite::Enqueue(rows) => self.rows.extend(rows),
            OutboxWrite::Record(outcome) => self.outcomes.push(outcome),
            OutboxWrite::Redeliver(id) => self.redeliver.push(id),
            OutboxWrite::Prune(before) => self.prune = Some(before),
        }
    }

    /// Writes the plan inside the writer's open transaction.
    pub async fn write(
        &self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (checked, rows): (Vec<&OutboxRow>, Vec<&OutboxRow>) =
            self.rows.iter().partition(|row| row.while_unsettled);
        for chunk in rows.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO notifications (id, channel, event, order_key, dedupe, \
                 data, next_attempt_at, retry_from, created_at, updated_at) ",
            );
            sql.push_values(chunk, |mut row, n| {
                let at = to_millis(n.created_at);
                row.push_bind(n.id.clone())
                    .push_bind(n.channel.clone())
                    .push_bind(n.event.as_str())
                    .push_bind(n.order_key.clone())
                    .push_bind(n.dedupe.clone())
                    .push_bind(n.data.clone())
                    .push_bind(at)
                    .push_bind(at)
                    .push_bind(at)
                    .push_bind(at);
            });
            sql.build().execute(&mut *conn).await?;
        }
        for n in checked {
            let at = to_millis(n.created_at);
            sqlx::query(
                "INSERT OR IGNORE INTO notifications (id, channel, event, order_key, dedupe, \
                 data, next_attempt_at, retry_from, created_at, updated_at) \
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM orders \
                 WHERE client_order_id = ? AND status IN ('pending', 'unknown'))",
            )
            .bind(&n.id)
            .bind(&n.channel)
            .bind(n.event.as_str())
            .bind(&n.order_key)
            .bind(&n.dedupe)
            .bind(&n.data)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(&n.order_key)
            .execute(&mut *conn)
            .await?;
        }
        let now_ms = to_millis(now);
        for outcome in &self.outcomes {
            let delivered = (outcome.status == DeliveryStatus::Delivered).then_some(now_ms);
            sqlx::query(
                "UPDATE notifications SET status = ?, attempts = attempts + 1, \
                 next_attempt_at = ?, last_error = ?, updated_at = ?, \
                 delivered_at = COALESCE(?, delivered_at) WHERE id = ? AND status = 'pending'",
            )
            .bind(outcome.status.as_str())
            .bind(to_millis(outcome.next_attempt_at))
            .bind(outcome.error.clone())
            .bind(now_ms)
            .bind(delivered)
            .bind(&outcome.id)
            .execute(&mut *conn)
            .await?;
        }
        for id in &self.redeliver {
            sqlx::query(
                "UPDATE notifications SET status = 'pending', next_attempt_at = ?, \
                 retry_from = ?, updated_at = ? WHERE id = ?",
            )
            .bind(now_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        if let Some(before) = self.prune {
            sqlx::query(
                "DELETE FROM notifications WHERE seq IN (SELECT seq FROM notifications \
                 WHERE status IN ('delivered', 'dead') AND created_at < ? ORDER BY seq LIMIT ?)",
            )
            .bind(to_millis(before))
            .bind(PRUNE_BATCH)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
