//! Notifications no single write causes: `order_unknown` when an order stays unsettled
//! too long, `daily_summary` at the configured UTC time, and the outbox gauges. One
//! task, ticking every few seconds, reading from the read pool; each notification is
//! stored once per channel (its `dedupe` key), however often a tick sees it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use super::events::{order_data, EventKind};
use super::outbox::OutboxWrite;
use super::queries;
use super::routes::Routes;
use super::worker::Context;
use crate::store::{to_millis, StoreError};

/// How often the timers look.
const TICK: Duration = Duration::from_secs(2);
/// Unsettled orders reported per tick at most.
const BATCH: u32 = 100;

/// What the timers need besides the worker's context.
#[derive(Debug, Clone)]
pub struct Timers {
    pub routes: Routes,
    /// Every channel's name, for the gauges (an empty outbox reads 0).
    pub channels: Vec<String>,
    /// `order_unknown` after this long unsettled; `None` disables it.
    pub unknown_after: Option<Duration>,
    /// `daily_summary` at this UTC time; `None` disables it.
    pub summary_at: Option<NaiveTime>,
    /// Delivered and dead notifications older than this are deleted; `None` keeps them.
    pub retain: Option<chrono::Duration>,
}

/// How often old notifications are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Runs the timers until stopped.
pub async fn run(context: Context, timers: Timers) {
    let mut pruned: Option<tokio::time::Instant> = None;
    loop {
        let now = context.clock.now();
        if let Err(err) = tick(&context, &timers, now).await {
            tracing::warn!(error = %err, "notification timers");
        }
        let prune_due = pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        if let (Some(retain), true) = (timers.retain, prune_due) {
            pruned = Some(tokio::time::Instant::now());
            let write = OutboxWrite::Prune(now - retain);
            if let Err(err) = context.store.outbox(write).await {
                tracing::warn!(error = %err, "pruning old notifications");
            }
        }
        tokio::select! {
            () = context.stop.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn tick(context: &Context, timers: &Timers, now: DateTime<Utc>) -> Result<(), StoreError> {
    if let Some(after) = timers.unknown_after {
        report_unsettled(context, &timers.routes, after, now).await?;
    }
    if let Some(at) = timers.summary_at {
        report_summary(context, &timers.routes, at, now).await?;
    }
    let depths = queries::depth(context.store.reader()).await?;
    for channel in &timers.channels {
        let (depth, oldest) = depths
            .iter()
            .find(|(name, _, _)| name == channel)
            .map_or((0, None), |(_, depth, oldest)| (*depth, *oldest));
        let age = oldest.map_or(0, |at| (to_millis(now) - at).max(0) / 1000);
        context.metrics.set_depth(channel, depth, age);
    }
    Ok(())
}

/// Stores `order_unknown` for every order unsettled longer than `after` and not yet
/// reported.
async fn report_unsettled(
    context: &Context,
    routes: &Routes,
    after: Duration,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cutoff = to_millis(now) - i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT o.client_order_id FROM orders o WHERE o.status IN ('pending', 'unknown') \
         AND o.created_at <= ? AND NOT EXISTS (SELECT 1 FROM notifications n \
         WHERE n.dedupe = 'order_unknown:' || o.client_order_id) ORDER BY o.id LIMIT ?",
    )
    .bind(cutoff)
    .bind(BATCH)
    .fetch_all(context.store.reader())
    .await?;
    let mut rows = Vec::new();
    for id in ids {
        let Ok(id) = id.parse::<Uuid>() else { continue };
        let Some(order) = context.store.order(id).await? else {
            continue;
        };
        if order.status.is_final() {
            continue;
        }
        let mut data = order_data(&order);
        data["unsettled_secs"] = json!((now - order.created_at).num_seconds());
        let dedupe = Some(format!("order_unknown:{id}"));
        for mut row in routes.rows_for_order(EventKind::OrderUnknown, &order, dedupe, now) {
            row.data = data.to_string();
            row.while_unsettled = true;
            rows.push(row);
        }
    }
    enqueue(context, rows).await
}

/// Stores today's `daily_summary` once `at` has passed, if not stored yet.
async fn report_summary(
    context: &Context,
    routes: &Routes,
    at: NaiveTime,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let due = now.date_naive().and_time(at).and_utc();
    if now < due {
        return Ok(());
    }
    let dedupe = format!("daily_summary:{}", now.date_naive());
    let sent: Option<i64> = sqlx::query_scalar("SELECT 1 FROM notifications WHERE dedupe = ?")
        .bind(&dedupe)
        .fetch_optional(context.store.reader())
        .await?;
    if sent.is_some() {
        return Ok(());
    }
    let from = due - chrono::Duration::days(1);
    let data = summary(context, from, due).await?;
    enqueue(
        context,
        routes.rows(EventKind::DailySummary, data, None, Some(dedupe), now),
    )
    .await
}

/// Orders created in `[from, until)`: counts by status and the notional of those the
/// exchange took, per source.
pub async fn summary(
    context: &Context,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT source, status, notional FROM orders WHERE created_at >= ? AND created_at < ?",
    )
    .bind(to_millis(from))
    .bind(to_millis(until))
    .fetch_all(context.store.reader())
    .await?;
    let mut sources: BTreeMap<String, (BTreeMap<String, u64>, Decimal)> = BTreeMap::new();
    for (source, status, notional) in rows {
        let entry = sources.entry(source).or_default();
        *entry.0.entry(status.clone()).or_default() += 1;
        let traded =
            !["rejected", "pending", "unknown", "failed", "expired"].contains(&status.as_str());
        if traded {
            let value = notional.and_then(|n| n.parse::<Decimal>().ok());
            entry.1 += value.unwrap_or_default();
        }
    }
    let per_source: serde_json::Map<String, Value> = sources
        .into_iter()
        .map(|(source, (statuses, notional))| {
            let value = json!({"orders": statuses, "notional": notional.to_string()});
            (source, value)
        })
        .collect();
    Ok(json!({
        "from": from,
        "until": until,
        "sources": per_source,
    }))
}

/// Stores `rows` through the writer.
pub async fn enqueue(
    context: &Context,
    rows: Vec<super::outbox::OutboxRow>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    context.store.outbox(OutboxWrite::Enqueue(rows)).await
}
