//! Reading the [`RiskState`] from the database, inside the caller's write transaction
//! (`BEGIN IMMEDIATE`), so that what one signal sees includes every order committed
//! before it and none can slip in between the check and the record.
//!
//! What counts (statuses of SPEC §4):
//!
//! | measure | statuses counted | why |
//! |---|---|---|
//! | order rate | all but `rejected` | each was an attempt on the exchange, even if it then failed or expired |
//! | daily notional | all but `rejected`, `failed`, `expired` | those never traded; `validated` counts so validate mode behaves like live |
//! | bought since the balance read | `pending`, `unknown` (any age) and `placed`, `validated` updated since the read minus [`BALANCE_LAG_SECS`] | they may have traded without the balance showing it yet |
//!
//! Times are Unix ms; decimals are exact text, summed here with `Decimal` (never in SQL,
//! which would use floats). Migration `0002_risk_indexes.sql` keeps every query on an
//! index, so the cost does not grow with the history.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sqlx::SqliteConnection;

use super::control;
use super::view::{MarketView, RiskState};
use crate::signal::Signal;

/// Length of the order-rate window.
pub const RATE_WINDOW_SECS: i64 = 60;
/// Orders confirmed up to this long *before* the balance read still count as bought
/// since: Kraken's balance can lag a fill by a moment, and counting one twice for a few
/// seconds only errs on the safe side.
pub const BALANCE_LAG_SECS: i64 = 10;

/// What to read the state for.
#[derive(Debug, Clone)]
pub struct StateQuery<'a> {
    /// The pair's altname as stored in `orders.pair` (the signal's name if unknown).
    pub pair: &'a str,
    /// The source's name as stored in `orders.source`.
    pub source: &'a str,
    /// Altnames of every pair with the same base asset, for the position.
    pub base_pairs: &'a [String],
    /// When the balance was read; `None` skips the position query.
    pub balance_at: Option<DateTime<Utc>>,
    /// Now, read after the write lock was taken.
    pub now: DateTime<Utc>,
}

impl<'a> StateQuery<'a> {
    /// The query for `signal` from `source`, given the market gathered for it.
    pub fn new(
        source: &'a str,
        signal: &'a Signal,
        market: &'a MarketView,
        now: DateTime<Utc>,
    ) -> Self {
        StateQuery {
            pair: market
                .pair
                .as_ref()
                .map_or(signal.pair.as_str(), |p| p.altname.as_str()),
            source,
            base_pairs: &market.same_base_pairs,
            balance_at: market.balance.map(|b| b.at),
            now,
        }
    }
}

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

/// Start of the UTC day of `now`.
pub fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
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
    let rows = select.fetch_all(conn).await?;
    sum(rows
        .iter()
        .filter_map(|(_, volume)| volume.as_deref())
        .map(|v| parse("volume", v)))
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(crate) mod tests;
