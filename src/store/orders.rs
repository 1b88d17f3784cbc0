//! The orders table: the claim, status transitions (each with its audit event, in the
//! same transaction) and the audit queries.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{from_millis, to_millis, StoreError};
use crate::order::{IllegalTransition, OrderStatus};
use crate::signal::{OrderType, Side, Signal};

/// An order as stored and as every endpoint returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderRecord {
    /// Row id; the basis of paging cursors, not part of the API.
    #[serde(skip)]
    pub id: i64,
    pub client_order_id: Uuid,
    pub source: String,
    pub strategy: Option<String>,
    pub pair: String,
    pub side: Side,
    pub order_type: OrderType,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub volume: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub price: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub notional: Option<Decimal>,
    pub status: OrderStatus,
    pub txid: Option<String>,
    pub error: Option<String>,
    /// Risk refusals: `[{rule, detail}]`.
    #[schema(value_type = Vec<Object>)]
    pub reasons: serde_json::Value,
    pub userref: Option<i64>,
    pub deadline: Option<DateTime<Utc>>,
    /// How often the order was resent after being proven never accepted (at most once).
    #[serde(skip)]
    pub resends: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What it traded so far (fills), flattened into the record.
    #[serde(flatten)]
    pub execution: crate::fills::Execution,
    /// The validated signal as received.
    pub signal: Signal,
    #[serde(skip)]
    pub content_hash: String,
}

/// An `orders` row as SQLite returns it (the listing reads the same columns).
#[derive(FromRow)]
pub(super) struct OrderRow {
    id: i64,
    client_order_id: String,
    source: String,
    strategy: Option<String>,
    pair: String,
    side: String,
    order_type: String,
    volume: Option<String>,
    price: Option<String>,
    notional: Option<String>,
    status: String,
    txid: Option<String>,
    error: Option<String>,
    reasons: String,
    signal: String,
    content_hash: String,
    userref: Option<i64>,
    deadline_at: Option<i64>,
    resends: i64,
    created_at: i64,
    updated_at: i64,
    filled_volume: Option<String>,
    avg_price: Option<String>,
    fee: Option<String>,
    fee_currency: Option<String>,
    cost: Option<String>,
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

fn decimal(text: Option<String>) -> Result<Option<Decimal>, StoreError> {
    text.map(|t| t.parse::<Decimal>().map_err(|e| corrupt("decimal", e)))
        .transpose()
}

impl TryFrom<OrderRow> for OrderRecord {
    type Error = StoreError;
    fn try_from(row: OrderRow) -> Result<Self, StoreError> {
        Ok(OrderRecord {
            id: row.id,
            client_order_id: row
                .client_order_id
                .parse()
                .map_err(|e| corrupt("client_order_id", e))?,
            source: row.source,
            strategy: row.strategy,
            pair: row.pair,
            side: serde_json::from_value(serde_json::Value::String(row.side))
                .map_err(|e| corrupt("side", e))?,
            order_type: row
                .order_type
                .parse()
                .map_err(|e| corrupt("order_type", e))?,
            volume: decimal(row.volume)?,
            price: decimal(row.price)?,
            notional: decimal(row.notional)?,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            txid: row.txid,
            error: row.error,
            reasons: serde_json::from_str(&row.reasons).map_err(|e| corrupt("reasons", e))?,
            signal: serde_json::from_str(&row.signal).map_err(|e| corrupt("signal", e))?,
            content_hash: row.content_hash,
            userref: row.userref,
            deadline: row.deadline_at.map(from_millis),
            resends: row.resends,
            created_at: from_millis(row.created_at),
            updated_at: from_millis(row.updated_at),
            execution: crate::fills::Execution {
                filled_volume: decimal(row.filled_volume)?,
                avg_price: decimal(row.avg_price)?,
                fee: decimal(row.fee)?,
                fee_currency: row.fee_currency,
                cost: decimal(row.cost)?,
            },
        })
    }
}

/// A claim: the first durable record of a signal (for [`insert`]).
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub client_order_id: Uuid,
    pub source: &'a str,
    pub signal: &'a Signal,
    pub content_hash: &'a str,
    /// The pair's Kraken altname.
    pub pair: &'a str,
    pub volume: Option<Decimal>,
    pub price: Option<Decimal>,
    pub notional: Option<Decimal>,
    /// `pending` (approved) or `rejected` (refused by risk).
    pub status: OrderStatus,
    pub reasons: serde_json::Value,
    pub userref: Option<i64>,
    pub deadline: Option<DateTime<Utc>>,
}

/// A status change and what caused it: the audit event it appends, and the fields it
/// sets. Owned, so it can travel to the writer task.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Why the status changed, for a human.
    pub cause: String,
    /// The request as sent to the exchange (never a key, secret or signature).
    pub request: Option<serde_json::Value>,
    /// The exchange's raw answer.
    pub response: Option<String>,
    /// How long the exchange call took.
    pub elapsed: Option<std::time::Duration>,
    pub txid: Option<String>,
    pub error: Option<String>,
    /// A new deadline (when an order is renewed or resent).
    pub deadline: Option<DateTime<Utc>>,
    /// This change resends an order proven never accepted (counted in `resends`).
    pub resend: bool,
}

impl Change {
    /// A change with only a cause.
    pub fn because(cause: impl Into<String>) -> Self {
        Change {
            cause: cause.into(),
            ..Change::default()
        }
    }
}

/// Why a status change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("no order with client order ID {0}")]
    NotFound(Uuid),
}

impl From<sqlx::Error> for ChangeError {
    fn from(err: sqlx::Error) -> Self {
        ChangeError::Store(err.into())
    }
}

/// Every column of [`OrderRow`], in order.
pub(super) const COLUMNS: &str =
    "id, client_order_id, source, strategy, pair, side, order_type, volume, \
     price, notional, status, txid, error, reasons, signal, content_hash, userref, deadline_at, \
     resends, created_at, updated_at, filled_volume, avg_price, fee, fee_currency, cost";

/// The order with this client order ID, read inside the caller's transaction.
pub async fn find(
    conn: &mut SqliteConnection,
    client_order_id: Uuid,
) -> Result<Option<OrderRecord>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE client_order_id = ?"
    ))
    .bind(client_order_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(OrderRecord::try_from).transpose()
}

/// The orders with these client order IDs (any not found are left out), read inside
/// the caller's transaction.
pub async fn find_by_ids(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<Vec<OrderRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {COLUMNS} FROM orders WHERE client_order_id IN ("
    ));
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.to_string());
    }
    query.push(")");
    let rows: Vec<OrderRow> = query.build_query_as().fetch_all(conn).await?;
    rows.into_iter().map(OrderRecord::try_from).collect()
}

/// The order with this client order ID, from the read pool.
pub async fn get(
    reader: &SqlitePool,
    client_order_id: Uuid,
) -> Result<Option<OrderRecord>, StoreError> {
    let mut conn = reader.acquire().await?;
    find(&mut conn, client_order_id).await
}

/// Inserts a claim and its first event, inside the caller's transaction; `None` when
/// the client order ID is already taken (nothing is written then). The service's
/// writer inserts whole batches at once (`store::batch`); this one-row form is for
/// tests that build a history row by row.
#[cfg(test)]
pub async fn insert(
    conn: &mut SqliteConnection,
    new: &NewOrder<'_>,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<Option<OrderRecord>, StoreError> {
    let signal = serde_json::to_string(new.signal).map_err(|e| corrupt("signal", e))?;
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "INSERT INTO orders (client_order_id, source, strategy, pair, side, order_type, volume,
             price, notional, status, reasons, signal, content_hash, userref, deadline_at,
             created_at, updated_at, clock_level)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {level})
         ON CONFLICT (client_order_id) DO NOTHING
         RETURNING {COLUMNS}",
        level = super::clock::CLOCK_LEVEL
    ))
    .bind(new.client_order_id.to_string())
    .bind(new.source)
    .bind(new.signal.strategy.as_deref())
    .bind(new.pair)
    .bind(new.signal.side.as_str())
    .bind(new.signal.order_type.as_str())
    .bind(new.volume.map(|v| v.to_string()))
    .bind(new.price.map(|v| v.to_string()))
    .bind(new.notional.map(|v| v.to_string()))
    .bind(new.status.as_str())
    .bind(new.reasons.to_string())
    .bind(signal)
    .bind(new.content_hash)
    .bind(new.userref)
    .bind(new.deadline.map(to_millis))
    .bind(to_millis(now))
    .bind(to_millis(now))
    // The clock level keeps time ranges seekable (store/clock.rs).
    .bind(to_millis(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let record = OrderRecord::try_from(row)?;
    let event = super::events::NewEvent {
        cause,
        ..super::events::NewEvent::default()
    };
    super::events::append(conn, record.id, record.status, &event, now).await?;
    Ok(Some(record))
}

/// Every order that is not final, oldest first: the work of crash recovery.
pub async fn unsettled(reader: &SqlitePool) -> Result<Vec<OrderRecord>, StoreError> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE status IN ('pending', 'unknown') ORDER BY id"
    ))
    .fetch_all(reader)
    .await?;
    rows.into_iter().map(OrderRecord::try_from).collect()
}

/// Orders on the exchange's book as far as we know (`placed`, `partially_filled`),
/// with a txid, oldest first: what a resynchronised executions feed settles.
pub async fn open_on_exchange(reader: &SqlitePool) -> Result<Vec<OrderRecord>, StoreError> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders INDEXED BY orders_by_status
         WHERE status IN ('placed', 'partially_filled') AND txid IS NOT NULL ORDER BY id"
    ))
    .fetch_all(reader)
    .await?;
    rows.into_iter().map(OrderRecord::try_from).collect()
}

/// How many orders are `pending` or `unknown`.
pub async fn count_unsettled(reader: &SqlitePool) -> Result<u64, StoreError> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status IN ('pending', 'unknown')")
            .fetch_one(reader)
            .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Orders `pending` or `unknown` last changed before `before`, oldest first: what the
/// sweeper looks at.
pub async fn unsettled_before(
    reader: &SqlitePool,
    before: DateTime<Utc>,
) -> Result<Vec<OrderRecord>, StoreError> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders
         WHERE status IN ('pending', 'unknown') AND updated_at < ? ORDER BY id"
    ))
    .bind(to_millis(before))
    .fetch_all(reader)
    .await?;
    rows.into_iter().map(OrderRecord::try_from).collect()
}

/// Filters of the audit listing; every one optional.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub pair: Option<String>,
    pub source: Option<String>,
    pub strategy: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only orders older than this row id (the decoded cursor).
    pub before_id: Option<i64>,
}

/// Orders matching `filter`, newest first, at most `limit` (see [`super::listing`]).
pub async fn list(
    reader: &SqlitePool,
    filter: &OrderFilter,
    limit: u32,
) -> Result<Vec<OrderRecord>, StoreError> {
    super::listing::list(reader, filter, limit).await
}
