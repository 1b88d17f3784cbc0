//! Reading the outbox from the read pool: due notifications for the worker, the list
//! and single rows for the API, and the depth for the metrics. Nothing here writes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, SqlitePool};

use super::channels::Notification;
use super::events::EventKind;
use super::outbox::DeliveryStatus;
use crate::store::{from_millis, to_millis, StoreError};

/// A notification as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    /// The stable id (`webhook-id` of webhook deliveries).
    pub id: String,
    /// The `[[notify]]` channel.
    pub channel: String,
    /// `order_placed`, `halted`, …
    pub event: String,
    /// The order it reports, for order events.
    pub client_order_id: Option<String>,
    #[schema(value_type = String)]
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// When it is tried next, while `pending`.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The message's `data`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A `notifications` row as SQLite returns it.
#[derive(FromRow)]
struct Row {
    id: String,
    channel: String,
    event: String,
    order_key: Option<String>,
    data: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    retry_from: i64,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, channel, event, order_key, data, status, attempts, \
    next_attempt_at, retry_from, last_error, created_at, delivered_at";

impl Row {
    fn view(self) -> Result<NotificationView, StoreError> {
        let order_event = EventKind::parse(&self.event).is_some_and(EventKind::is_order_event);
        let status = DeliveryStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("notification status {}", self.status)))?;
        Ok(NotificationView {
            id: self.id,
            channel: self.channel,
            event: self.event,
            client_order_id: self.order_key.filter(|_| order_event),
            status,
            attempts: self.attempts,
            next_attempt_at: from_millis(self.next_attempt_at),
            last_error: self.last_error,
            created_at: from_millis(self.created_at),
            delivered_at: self.delivered_at.map(from_millis),
            data: serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null),
        })
    }
}

/// A due notification with what the worker needs to retry it.
#[derive(Debug, Clone)]
pub struct Due {
    pub notification: Notification,
    /// Attempts made so far.
    pub attempts: u32,
    /// The give-up age counts from here.
    pub retry_from: DateTime<Utc>,
}

/// The notifications of `channel` due at `now`, oldest first, at most `limit`; one
/// waiting behind an earlier undelivered notification of the same order is not due
/// (order per order is kept).
pub async fn due(
    reader: &SqlitePool,
    channel: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Due>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications n WHERE n.channel = ? AND n.status = 'pending' \
         AND n.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM notifications p \
         WHERE p.channel = n.channel AND p.order_key = n.order_key AND p.status = 'pending' \
         AND p.seq < n.seq) ORDER BY n.seq LIMIT ?"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(channel)
        .bind(to_millis(now))
        .bind(limit)
        .fetch_all(reader)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let event = EventKind::parse(&row.event)?;
            Some(Due {
                notification: Notification {
                    id: row.id,
                    event,
                    data: serde_json::from_str(&row.data).unwrap_or(serde_json::Value::Null),
                    created_at: from_millis(row.created_at),
                },
                attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                retry_from: from_millis(row.retry_from),
            })
        })
        .collect())
}

/// Notifications newest first, optionally only those in `status`, at most `limit`.
pub async fn list(
    reader: &SqlitePool,
    status: Option<DeliveryStatus>,
    limit: u32,
) -> Result<Vec<NotificationView>, StoreError> {
    let rows: Vec<Row> = match status {
        Some(status) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM notifications WHERE status = ? ORDER BY seq DESC LIMIT ?"
            );
            sqlx::query_as(&sql)
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(reader)
                .await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM notifications ORDER BY seq DESC LIMIT ?");
            sqlx::query_as(&sql).bind(limit).fetch_all(reader).await?
        }
    };
    rows.into_iter().map(Row::view).collect()
}

/// The notification with this id.
pub async fn get(reader: &SqlitePool, id: &str) -> Result<Option<NotificationView>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = ?");
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(reader).await?;
    row.map(Row::view).transpose()
}

/// Undelivered notifications and the age of the oldest, by channel.
pub async fn depth(reader: &SqlitePool) -> Result<Vec<(String, i64, Option<i64>)>, StoreError> {
    let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT channel, COUNT(*), MIN(created_at) FROM notifications \
         WHERE status = 'pending' GROUP BY channel",
    )
    .fetch_all(reader)
    .await?;
    Ok(rows)
}
