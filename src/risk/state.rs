//! The [`RiskState`] as SQL over the orders table: the definition the in-memory
//! [`super::ledger::RiskLedger`] must always agree with. Compiled for tests only, where
//! it is the oracle of the ledger's property test.
//!
//! What counts (statuses of SPEC §4):
//!
//! | measure | statuses counted | why |
//! |---|---|---|
//! | order rate | all but `rejected` | each was an attempt on the exchange, even if it then failed or expired |
//! | daily notional | all but `rejected`, `failed`, `expired` | those never traded; `validated` counts so validate mode behaves like live |
//! | bought since the balance read | the unfilled remainder of buys other than market orders `placed`/`partially_filled` last changed before the read minus [`BALANCE_LAG_SECS`] (resting on the book), plus `pending`, `unknown` (any age) and every other status but `rejected`, `failed`, `expired` updated since the read minus [`BALANCE_LAG_SECS`] (`placed`, `validated`, `partially_filled`, `filled`, `canceled`; a fill updates its order) | they may have traded without the balance showing it yet |
//!
//! Times are Unix ms; decimals are exact text, summed here with `Decimal` (never in SQL,
//! which would use floats). Migration `0002_risk_indexes.sql` keeps every query on an
//! index, so the cost does not grow with the history.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sqlx::SqliteConnection;

use super::control;
use super::view::RiskState;

pub use super::ledger::{start_of_day, StateQuery, BALANCE_LAG_SECS, RATE_WINDOW_SECS};

/// Reads everything the rules need from the database. Run it on the connection of the
/// write transaction that will record the verdict (`&mut *tx`).
pub async fn load(
    conn: &mut SqliteConnection,
    query: &StateQuery<'_>,
) -> Result<RiskState, sqlx::Error> {
    let halt = control::is_halted(conn).await?;
    let (orders, pair, source) = window_counts(conn, query).await?;
    let daily_notional = daily_notional(conn, query.now).await?;
    let bought_since_balance = match query.balance_at {
        Some(at) => bought_since(conn, query.base_pairs, at).await?,
        None => Decimal::ZERO,
    };
    Ok(RiskState {
        halt,
        orders_last_minute: orders,
        pair_orders_last_minute: pair,
        source_orders_last_minute: source,
        daily_notional,
        bought_since_balance,
    })
}

fn saturate(count: i64) -> u32 {
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

/// Accepted orders in the rolling window: all, this pair's, this source's. An order
/// exactly 60 s old has left the window.
async fn window_counts(
    conn: &mut SqliteConnection,
    query: &StateQuery<'_>,
) -> Result<(u32, u32, u32), sqlx::Error> {
    let since = query.now - Duration::seconds(RATE_WINDOW_SECS);
    let (all, pair, source): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(pair = ?), 0), COALESCE(SUM(source = ?), 0)
         FROM orders WHERE status <> 'rejected' AND created_at > ?",
    )
    .bind(query.pair)
    .bind(query.source)
    .bind(since.timestamp_millis())
    .fetch_one(conn)
    .await?;
    Ok((saturate(all), saturate(pair), saturate(source)))
}

fn parse(column: &str, text: &str) -> Result<Decimal, sqlx::Error> {
    Decimal::from_str(text).map_err(|err| {
        sqlx::Error::Decode(format!("orders.{column} `{text}` is not a decimal: {err}").into())
    })
}

/// Sum of today's notional over orders that may trade.
async fn daily_notional(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<Decimal, sqlx::Error> {
    let values: Vec<String> = sqlx::query_scalar(
        "SELECT notional FROM orders
         WHERE status <> 'rejected' AND created_at >= ?
           AND status NOT IN ('failed', 'expired') AND notional IS NOT NULL",
    )
    .bind(start_of_day(now).timestamp_millis())
    .fetch_all(conn)
    .await?;
    sum(values.iter().map(|v| parse("notional", v)))
}

fn sum(
    mut values: impl Iterator<Item = Result<Decimal, sqlx::Error>>,
) -> Result<Decimal, sqlx::Error> {
    values.try_fold(Decimal::ZERO, |total, value| {
        total
            .checked_add(value?)
            .ok_or_else(|| sqlx::Error::Decode("sum of orders overflows".into()))
    })
}

/// Base volume bought through `pairs` that the balance read at `balance_at` may not show.
async fn bought_since(
    conn: &mut SqliteConnection,
    pairs: &[String],
    balance_at: DateTime<Utc>,
) -> Result<Decimal, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let since = balance_at - Duration::seconds(BALANCE_LAG_SECS);
    let list = vec!["?"; pairs.len()].join(", ");
    // Two indexed halves; UNION (on id) removes an order found by both.
    let sql = format!(
        "SELECT id, volume FROM orders
         WHERE status IN ('pending', 'unknown') AND side = 'buy' AND pair IN ({list})
         UNION
         SELECT id, volume FROM orders
         WHERE status <> 'rejected' AND updated_at >= ?
           AND status NOT IN ('failed', 'expired') AND side = 'buy' AND pair IN ({list})"
    );
    let mut select = sqlx::query_as::<_, (i64, Option<String>)>(&sql);
    for pair in pairs {
        select = select.bind(pair);
    }
    select = select.bind(since.timestamp_millis());
    for pair in pairs {
        select = select.bind(pair);
    }
    let rows = select.fetch_all(&mut *conn).await?;
    let recent = sum(rows
        .iter()
        .filter_map(|(_, volume)| volume.as_deref())
        .map(|v| parse("volume", v)))?;
    // Buys resting on the book since before the read: their unfilled remainder.
    let sql = format!(
        "SELECT volume, filled_volume FROM orders
         WHERE status IN ('placed', 'partially_filled') AND side = 'buy'
           AND order_type <> 'market' AND updated_at < ? AND pair IN ({list})"
    );
    let mut select = sqlx::query_as::<_, (Option<String>, Option<String>)>(&sql);
    select = select.bind(since.timestamp_millis());
    for pair in pairs {
        select = select.bind(pair);
    }
    let resting = select.fetch_all(conn).await?;
    let remainders = resting.iter().filter_map(|(volume, filled)| {
        let volume = parse("volume", volume.as_deref()?);
        let filled = filled
            .as_deref()
            .map_or(Ok(Decimal::ZERO), |f| parse("filled_volume", f));
        Some(volume.and_then(|v| Ok(v.saturating_sub(filled?).max(Decimal::ZERO))))
    });
    sum(std::iter::once(Ok(recent)).chain(remainders))
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(crate) mod tests;
