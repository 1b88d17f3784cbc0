//! Execution statistics for `GET /v1/stats`: orders by status, signals by outcome, the
//! fill ratio, and signal-to-wire and signal-to-fill latency percentiles, over the
//! orders created in a window (by default the last 24 hours), so the cost follows the
//! window, not the history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqlitePool;

use crate::order::OrderStatus;
use crate::store::{to_millis, StoreError};

/// Latency percentiles in milliseconds; `null` without samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub samples: u64,
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(mut samples: Vec<i64>) -> Self {
        samples.sort_unstable();
        let rank = |p: usize| -> Option<i64> {
            if samples.is_empty() {
                return None;
            }
            let index = (samples.len() * p).div_ceil(100).saturating_sub(1);
            samples.get(index.min(samples.len() - 1)).copied()
        };
        Percentiles {
            samples: samples.len() as u64,
            p50_ms: rank(50),
            p90_ms: rank(90),
            p99_ms: rank(99),
            max_ms: samples.last().copied(),
        }
    }
}

/// What `GET /v1/stats` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Start of the window: orders created at or after it are counted.
    pub since: DateTime<Utc>,
    /// Signals by outcome: `accepted` (recorded to send) and `rejected` (by risk).
    pub signals: BTreeMap<String, u64>,
    /// Orders by status (every status, zero included).
    pub orders: BTreeMap<String, u64>,
    /// Orders that traded (filled or partly) over orders that reached the book
    /// (`placed`, `partially_filled`, `filled`, `canceled`); `null` when none did.
    pub fill_ratio: Option<f64>,
    /// From recording a signal to sending its order (the send that succeeded).
    pub signal_to_wire: Percentiles,
    /// From recording a signal to recording its first fill.
    pub signal_to_fill: Percentiles,
}

/// Computes the statistics of orders created since `since`.
pub async fn load(reader: &SqlitePool, since: DateTime<Utc>) -> Result<Stats, StoreError> {
    let from = to_millis(since);
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM orders WHERE created_at >= ? GROUP BY status")
            .bind(from)
            .fetch_all(reader)
            .await?;
    let mut orders: BTreeMap<String, u64> = OrderStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (status, count) in counts {
        orders.insert(status, u64::try_from(count).unwrap_or_default());
    }
    let count = |s: OrderStatus| orders.get(s.as_str()).copied().unwrap_or_default();
    let rejected = count(OrderStatus::Rejected);
    let total: u64 = orders.values().sum();
    let signals = BTreeMap::from([
        ("accepted".to_owned(), total - rejected),
        ("rejected".to_owned(), rejected),
    ]);
    let traded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE created_at >= ? AND filled_volume IS NOT NULL",
    )
    .bind(from)
    .fetch_one(reader)
    .await?;
    let on_book = count(OrderStatus::Placed)
        + count(OrderStatus::PartiallyFilled)
        + count(OrderStatus::Filled)
        + count(OrderStatus::Canceled);
    let fill_ratio = (on_book > 0).then(|| traded as f64 / on_book as f64);
    let wire: Vec<i64> = sqlx::query_scalar(
        "SELECT MIN(e.at - COALESCE(e.elapsed_ms, 0)) - o.created_at
         FROM orders o JOIN order_events e ON e.order_id = o.id
         WHERE o.created_at >= ? AND e.status IN ('placed', 'validated') AND e.request IS NOT NULL
         GROUP BY o.id",
    )
    .bind(from)
    .fetch_all(reader)
    .await?;
    let fill: Vec<i64> = sqlx::query_scalar(
        "SELECT MIN(f.recorded_at) - o.created_at
         FROM orders o JOIN fills f ON f.order_id = o.id
         WHERE o.created_at >= ? GROUP BY o.id",
    )
    .bind(from)
    .fetch_all(reader)
    .await?;
    Ok(Stats {
        since,
        signals,
        orders,
        fill_ratio,
        signal_to_wire: Percentiles::of(wire),
        signal_to_fill: Percentiles::of(fill),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of((1..=100).rev().collect());
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (Some(50), Some(90), Some(99), Some(100))
        );
        assert_eq!(p.samples, 100);
        let one = Percentiles::of(vec![7]);
        assert_eq!((one.p50_ms, one.p99_ms), (Some(7), Some(7)));
        assert_eq!(Percentiles::of(Vec::new()).p50_ms, None);
    }
}
