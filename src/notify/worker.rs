//! The delivery worker: one task per channel, beside the API. Each reads its due
//! notifications from the read pool (never the writer), sends them one at a time
//! within the channel's rate limit, and records every outcome through the writer as
//! an ordinary batched write. A failure is retried with backoff and jitter; a `429`
//! pauses the channel for its `Retry-After`; a notification too old is `dead`. Every
//! call is bounded by the channel client's timeout, and trading never waits for any
//! of it: the writer only ever receives finished outcomes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backoff::Backoff;
use super::channels::{Channel, Delivery};
use super::metrics::NotifyMetrics;
use super::outbox::{DeliveryStatus, OutboxWrite, Outcome};
use super::queries::{self, Due};
use crate::clock::SharedClock;
use crate::store::Store;

/// Notifications read per query.
const PAGE: u32 = 32;

/// What every channel task shares.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub clock: SharedClock,
    pub backoff: Backoff,
    pub poll: Duration,
    pub metrics: NotifyMetrics,
    pub stop: CancellationToken,
}

/// Starts one delivery task per channel on `tracker`.
pub fn spawn(context: &Context, channels: Vec<Arc<Channel>>, tracker: &TaskTracker) {
    for channel in channels {
        tracker.spawn(run(context.clone(), channel));
    }
}

/// Sleeps `wait`; false when stopped meanwhile.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

async fn run(context: Context, channel: Arc<Channel>) {
    let mut next_send = tokio::time::Instant::now();
    while !context.stop.is_cancelled() {
        let now = context.clock.now();
        let due = match queries::due(context.store.reader(), &channel.name, now, PAGE).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(channel = %channel.name, error = %err, "reading due notifications");
                Vec::new()
            }
        };
        if due.is_empty() {
            if !pause(&context.stop, context.poll).await {
                return;
            }
            continue;
        }
        for item in due {
            let wait = next_send.saturating_duration_since(tokio::time::Instant::now());
            if !pause(&context.stop, wait).await {
                return;
            }
            let now = context.clock.now();
            let delivery = tokio::select! {
                () = context.stop.cancelled() => return,
                delivery = channel.send(&item.notification, now) => delivery,
            };
            next_send = tokio::time::Instant::now() + channel.interval;
            let (outcome, label, retry_after) = decide(&context.backoff, &item, delivery, now);
            context.metrics.delivery(&channel.name, label);
            let failed = outcome.status != DeliveryStatus::Delivered;
            if failed {
                tracing::warn!(channel = %channel.name, id = %outcome.id,
                    error = outcome.error.as_deref().unwrap_or(""), outcome = label,
                    "notification not delivered");
            }
            if let Err(err) = context.store.outbox(OutboxWrite::Record(outcome)).await {
                tracing::warn!(channel = %channel.name, error = %err, "recording a delivery");
            }
            if let Some(wait) = retry_after {
                // The channel asked everyone to slow down: nothing goes out before.
                next_send = next_send.max(tokio::time::Instant::now() + wait);
            }
            if failed {
                // Read again: the notification behind it may belong to the same order.
                break;
            }
        }
    }
}

/// The outcome to record for `delivery` of `item` at `now`, its metric label and the
/// pause the channel asked for. Pure but for the jitter.
pub fn decide(
    backoff: &Backoff,
    item: &Due,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> (Outcome, &'static str, Option<Duration>) {
    let id = item.notification.id.clone();
    match delivery {
        Delivery::Delivered(_) => (
            Outcome {
                id,
                status: DeliveryStatus::Delivered,
                next_attempt_at: now,
                error: None,
            },
            "delivered",
            None,
        ),
        Delivery::Failed { error, retry_after } => {
            let attempt = item.attempts.saturating_add(1);
            let next = backoff.next_try(attempt, rand::random::<f64>(), retry_after, now);
            let dead = backoff.gives_up(item.retry_from, next);
            let label = match (dead, retry_after.is_some()) {
                (true, _) => "dead",
                (false, true) => "rate_limited",
                (false, false) => "failed",
            };
            let status = if dead {
                DeliveryStatus::Dead
            } else {
                DeliveryStatus::Pending
            };
            let outcome = Outcome {
                id,
                status,
                next_attempt_at: next,
                error: Some(error),
            };
            (outcome, label, retry_after)
        }
    }
}
