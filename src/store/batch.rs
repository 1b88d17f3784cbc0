//! A batch's writes, planned in memory and then written in a handful of statements.
//!
//! Every statement costs a round trip to SQLite's connection thread, so the writer
//! never writes per command: it reads what the batch needs in two queries (existing
//! claims, orders to change), decides every command in arrival order in memory
//! (idempotency, risk verdicts, transitions, the breaker), and then writes all new
//! orders in one multi-row `INSERT`, all status changes in one `UPDATE … FROM
//! (VALUES …)`, all events in one `INSERT`, and the switches — a fixed number of
//! statements per batch, whatever its size. Any statement failing fails the batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::clock::CLOCK_LEVEL;
use super::orders::{self, OrderRecord};
use super::{control_ops, to_millis, StoreError};
use crate::order::OrderStatus;

/// Rows per multi-row statement: far below SQLite's limit of 32 766 bound values.
const CHUNK: usize = 500;

/// Which order an event belongs to.
#[derive(Debug, Clone, Copy)]
enum Owner {
    /// An order already in the table.
    Existing(i64),
    /// The n-th order inserted by this batch.
    New(usize),
}

/// An audit event to append.
#[derive(Debug, Clone)]
struct EventRow {
    owner: Owner,
    at: i64,
    status: OrderStatus,
    cause: String,
    request: Option<String>,
    response: Option<String>,
    elapsed_ms: Option<i64>,
}

/// What one event records; see [`Plan::event`].
#[derive(Debug, Clone, Default)]
pub struct EventText {
    pub cause: String,
    pub request: Option<serde_json::Value>,
    pub response: Option<String>,
    pub elapsed: Option<std::time::Duration>,
}

/// Everything a batch will write.
#[derive(Debug, Default)]
pub struct Plan {
    /// New orders, in arrival order (their `id` is filled in once inserted).
    inserts: Vec<OrderRecord>,
    /// Orders changed, by row id: their final state in this batch.
    updates: HashMap<i64, OrderRecord>,
    events: Vec<EventRow>,
    /// The breaker's count to store, if it changed.
    pub failures: Option<u32>,
    /// The kill switch's value to store, if it changed (JSON of `control`).
    pub halt_value: Option<String>,
    nonces: Vec<(String, i64)>,
    pairs: Option<(String, i64)>,
    /// How long the inserts, the updates and the events took to write.
    pub timings: [std::time::Duration; 3],
    /// Notifications to store and delivery outcomes (see `crate::notify::outbox`).
    pub outbox: crate::notify::outbox::OutboxPlan,
}

impl Plan {
    /// Adds a new order; returns its index for [`Plan::event_for_new`].
    pub fn insert(&mut self, record: OrderRecord) -> usize {
        self.inserts.push(record);
        self.inserts.len() - 1
    }

    /// The order inserted as `index`.
    pub fn inserted(&self, index: usize) -> &OrderRecord {
        &self.inserts[index]
    }

    /// Sets the final state of an existing order.
    pub fn update(&mut self, record: OrderRecord) {
        self.updates.insert(record.id, record);
    }

    /// Appends an event to the order inserted as `index`.
    pub fn event_for_new(
        &mut self,
        index: usize,
        status: OrderStatus,
        text: EventText,
        at: DateTime<Utc>,
    ) {
        self.push_event(Owner::New(index), status, text, at);
    }

    /// Appends an event to an existing order.
    pub fn event(
        &mut self,
        order_id: i64,
        status: OrderStatus,
        text: EventText,
        at: DateTime<Utc>,
    ) {
        self.push_event(Owner::Existing(order_id), status, text, at);
    }

    fn push_event(
        &mut self,
        owner: Owner,
        status: OrderStatus,
        text: EventText,
        at: DateTime<Utc>,
    ) {
        self.events.push(EventRow {
            owner,
            at: to_millis(at),
            status,
            cause: text.cause,
            request: text.request.map(|r| r.to_string()),
            response: text.response,
            elapsed_ms: text
                .elapsed
                .map(|e| i64::try_from(e.as_millis()).unwrap_or(i64::MAX)),
        });
    }

    /// Raises the nonce mark of `key_id`.
    pub fn save_nonce(&mut self, key_id: String, high_water: i64) {
        self.nonces.push((key_id, high_water));
    }

    /// Replaces the cached pair table.
    pub fn save_pairs(&mut self, json: String, at: i64) {
        self.pairs = Some((json, at));
    }

    /// Writes the plan inside the open transaction; afterwards every inserted record
    /// carries its row id.
    pub async fn write(
        &mut self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.write_inserts(conn, now).await?;
        let inserted = started.elapsed();
        self.write_updates(conn).await?;
        let updated = started.elapsed();
        self.write_events(conn).await?;
        self.timings = [inserted, updated - inserted, started.elapsed() - updated];
        let now_ms = to_millis(now);
        if let Some(failures) = self.failures {
            control_ops::put(
                conn,
                crate::risk::control::FAILURES,
                &failures.to_string(),
                now_ms,
            )
            .await?;
        }
        if let Some(value) = &self.halt_value {
            control_ops::put(conn, crate::risk::control::HALTED, value, now_ms).await?;
        }
        for (key_id, high_water) in &self.nonces {
            control_ops::save_nonce(conn, key_id, *high_water).await?;
        }
        if let Some((json, at)) = &self.pairs {
            control_ops::save_pairs(conn, json, *at).await?;
        }
        self.outbox.write(conn, now).await?;
        Ok(())
    }

    async fn write_inserts(
        &mut self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.inserts.is_empty() {
            return Ok(());
        }
        // Every order of a batch is created at the batch's `now`: one clock level
        // (see `store::clock`) holds for all of them.
        let level: i64 = sqlx::query_scalar(&format!("SELECT {CLOCK_LEVEL}"))
            .bind(to_millis(now))
            .fetch_one(&mut *conn)
            .await?;
        let mut ids: HashMap<Uuid, i64> = HashMap::with_capacity(self.inserts.len());
        for chunk in self.inserts.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT INTO orders (client_order_id, source, strategy, pair, side, order_type, \
                 volume, price, notional, status, reasons, signal, content_hash, userref, \
                 deadline_at, created_at, updated_at, clock_level) ",
            );
            let mut failed = None;
            sql.push_values(chunk, |mut row, order| {
                let signal = serde_json::to_string(&order.signal).unwrap_or_else(|err| {
                    failed = Some(err.to_string());
                    String::new()
                });
                row.push_bind(order.client_order_id.to_string())
                    .push_bind(order.source.clone())
                    .push_bind(order.strategy.clone())
                    .push_bind(order.pair.clone())
                    .push_bind(order.side.as_str())
                    .push_bind(order.order_type.as_str())
                    .push_bind(order.volume.map(|v| v.to_string()))
                    .push_bind(order.price.map(|v| v.to_string()))
                    .push_bind(order.notional.map(|v| v.to_string()))
                    .push_bind(order.status.as_str())
                    .push_bind(order.reasons.to_string())
                    .push_bind(signal)
                    .push_bind(order.content_hash.clone())
                    .push_bind(order.userref)
                    .push_bind(order.deadline.map(to_millis))
                    .push_bind(to_millis(order.created_at))
                    .push_bind(to_millis(order.updated_at))
                    .push_bind(level);
            });
            if let Some(err) = failed {
                return Err(StoreError::Corrupt(format!("signal: {err}")));
            }
            sql.push(" RETURNING id, client_order_id");
            let rows: Vec<(i64, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
            for (id, client_order_id) in rows {
                let client_order_id = client_order_id
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("client_order_id: {e}")))?;
                ids.insert(client_order_id, id);
            }
        }
        for order in &mut self.inserts {
            order.id = *ids
                .get(&order.client_order_id)
                .ok_or_else(|| StoreError::Corrupt("an inserted order has no row id".into()))?;
        }
        Ok(())
    }

    async fn write_updates(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let updates: Vec<&OrderRecord> = self.updates.values().collect();
        for chunk in updates.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "WITH v(id, status, txid, error, deadline_at, resends, updated_at) AS (",
            );
            sql.push_values(chunk, |mut row, order| {
                row.push_bind(order.id)
                    .push_bind(order.status.as_str())
                    .push_bind(order.txid.clone())
                    .push_bind(order.error.clone())
                    .push_bind(order.deadline.map(to_millis))
                    .push_bind(order.resends)
                    .push_bind(to_millis(order.updated_at));
            });
            sql.push(
                ") UPDATE orders SET status = v.status, txid = v.txid, error = v.error, \
                 deadline_at = v.deadline_at, resends = v.resends, updated_at = v.updated_at \
                 FROM v WHERE orders.id = v.id",
            );
            sql.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn write_events(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        for chunk in self.events.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT INTO order_events (order_id, at, status, cause, request, response, elapsed_ms) ",
            );
            sql.push_values(chunk, |mut row, event| {
                let order_id = match event.owner {
                    Owner::Existing(id) => id,
                    Owner::New(index) => self.inserts.get(index).map_or(0, |o| o.id),
                };
                row.push_bind(order_id)
                    .push_bind(event.at)
                    .push_bind(event.status.as_str())
                    .push_bind(event.cause.clone())
                    .push_bind(event.request.clone())
                    .push_bind(event.response.clone())
                    .push_bind(event.elapsed_ms);
            });
            sql.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The records inserted, with their row ids (after [`Plan::write`]).
    pub fn into_inserted(self) -> Vec<OrderRecord> {
        self.inserts
    }
}

/// The orders with these client order IDs, read inside the batch's transaction.
pub async fn find_many(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, OrderRecord>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let records = orders::find_by_ids(conn, chunk).await?;
        for record in records {
            found.insert(record.client_order_id, record);
        }
    }
    Ok(found)
}
