//! The append-only audit log: one event per status change or exchange attempt.
//!
//! Triggers in the schema refuse any UPDATE or DELETE, so history cannot be rewritten.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{from_millis, to_millis, StoreError};
use crate::order::OrderStatus;

/// One audit event, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub status: OrderStatus,
    pub cause: String,
    /// The request as sent to the exchange (never a key, secret or signature).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub request: Option<serde_json::Value>,
    /// The exchange's raw answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// How long the exchange call took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

/// What an event records, before it is written.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub cause: &'a str,
    pub request: Option<&'a serde_json::Value>,
    pub response: Option<&'a str>,
    /// How long the exchange call took, for events recording one.
    pub elapsed: Option<Duration>,
}

#[derive(FromRow)]
struct EventRow {
    at: i64,
    status: String,
    cause: String,
    request: Option<String>,
    response: Option<String>,
    elapsed_ms: Option<i64>,
}

/// Appends an event for `order_id`, inside the caller's transaction.
pub async fn append(
    conn: &mut SqliteConnection,
    order_id: i64,
    status: OrderStatus,
    event: &NewEvent<'_>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, at, status, cause, request, response, elapsed_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(to_millis(at))
    .bind(status.as_str())
    .bind(event.cause)
    .bind(event.request.map(|r| r.to_string()))
    .bind(event.response)
    .bind(
        event
            .elapsed
            .map(|e| i64::try_from(e.as_millis()).unwrap_or(i64::MAX)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every event of an order, oldest first.
pub async fn for_order(reader: &SqlitePool, order_id: i64) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT at, status, cause, request, response, elapsed_ms FROM order_events
         WHERE order_id = ? ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(reader)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Event {
                at: from_millis(row.at),
                status: row.status.parse().map_err(StoreError::Corrupt)?,
                cause: row.cause,
                request: row
                    .request
                    .map(|r| serde_json::from_str(&r))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                response: row.response,
                elapsed_ms: row.elapsed_ms.and_then(|ms| u64::try_from(ms).ok()),
            })
        })
        .collect()
}
