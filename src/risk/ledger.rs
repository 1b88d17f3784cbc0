//! The risk state in memory, owned by the store's single writer.
//!
//! The rules need, for every signal, the orders of the last minute (all, per pair, per
//! source), today's notional, the buys the balance may not show yet, the kill switch
//! and the circuit breaker's count. Reading them from SQL per signal made a busy day
//! slow every signal down; here they are kept as running values that the writer
//! updates with every change it commits, so a signal's cost does not grow with the
//! history. They are loaded once at start-up with queries bounded by their windows
//! (never the whole history) and reloaded if a batch fails to commit.
//!
//! What counts is exactly what `risk::state` (the SQL definition, kept as the test
//! oracle) counts; a property test holds the two equal:
//!
//! | measure | orders counted |
//! |---|---|
//! | order rate | created in the last 60 s, any status but `rejected` |
//! | daily notional | created today (UTC), any status but `rejected`, `failed`, `expired` |
//! | bought since the balance read | buys `pending`/`unknown`, plus buys the exchange answered (`placed`, `validated`, `partially_filled`, `filled`, `canceled`) last changed since the read minus [`BALANCE_LAG_SECS`] |
//!
//! | … plus open buys from before the read | the unfilled remainder (`volume − filled_volume`) of buys other than market orders still `placed`/`partially_filled` last changed before the read minus [`BALANCE_LAG_SECS`]: resting on the book, not in the balance (a market order does not rest) |
//!
//! A fill or cancel changes an order that was already confirmed: its entry moves to
//! the time of that change, as its `updated_at` does, so it is counted once.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::SqliteConnection;

use super::control;
use super::view::{Halt, MarketView, RiskState};
use crate::order::OrderStatus;
use crate::signal::{Side, Signal};

/// Length of the order-rate window.
pub const RATE_WINDOW_SECS: i64 = 60;
/// Orders confirmed up to this long *before* the balance read still count as bought
/// since: Kraken's balance can lag a fill by a moment, and counting one twice for a few
/// seconds only errs on the safe side.
pub const BALANCE_LAG_SECS: i64 = 10;
/// How long confirmed buys are kept for the position rule. Balances are cached for
/// seconds, so a read older than this never reaches the rules.
const CONFIRMED_RETENTION_MINUTES: i64 = 15;

/// What to compute the state for.
#[derive(Debug, Clone)]
pub struct StateQuery<'a> {
    /// The pair's altname as stored in `orders.pair` (the signal's name if unknown).
    pub pair: &'a str,
    /// The source's name as stored in `orders.source`.
    pub source: &'a str,
    /// Altnames of every pair with the same base asset, for the position.
    pub base_pairs: &'a [String],
    /// When the balance was read; `None` skips the position.
    pub balance_at: Option<DateTime<Utc>>,
    /// Now, as the writer reads it for this signal.
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

/// One accepted order in the rate window.
#[derive(Debug, Clone)]
struct Recent {
    created_at: DateTime<Utc>,
    pair: String,
    source: String,
}

/// One buy the exchange confirmed, for the position rule; `at` is its last change.
#[derive(Debug, Clone)]
struct Confirmed {
    at: DateTime<Utc>,
    pair: String,
    volume: Decimal,
}

/// What the ledger needs to know of an order to account for it.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    /// The order's row id: what a later change of the same order replaces.
    pub id: i64,
    pub client_order_id: uuid::Uuid,
    /// Base volume traded so far.
    pub filled: Option<Decimal>,
    pub pair: &'a str,
    pub source: &'a str,
    pub side: Side,
    pub volume: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    /// Whether it can rest on the book (every order type but market): only those are
    /// held as open buys, so orders nothing reports filled (no executions feed, a
    /// history from before fills were tracked) cannot pile up without bound.
    pub can_rest: bool,
}

/// The running risk state. Every method is synchronous and does no I/O.
#[derive(Debug, Clone, Default)]
pub struct RiskLedger {
    /// Accepted orders, oldest first, created in the last [`RATE_WINDOW_SECS`].
    window: VecDeque<Recent>,
    pair_counts: HashMap<String, u32>,
    source_counts: HashMap<String, u32>,
    /// The UTC day `daily_notional` is for.
    day: Option<NaiveDate>,
    daily_notional: Decimal,
    /// Volume of `pending`/`unknown` buys, by pair.
    unsettled_buys: HashMap<String, Decimal>,
    /// Buys confirmed recently, by order row id.
    confirmed: HashMap<i64, Confirmed>,
    /// Buys on the book (`placed`, `partially_filled`), by client order ID: their
    /// unfilled remainder, with the time of their last change.
    open: HashMap<uuid::Uuid, Confirmed>,
    halt: Option<Halt>,
    failures: u32,
}

fn counts_for_rate(status: OrderStatus) -> bool {
    status != OrderStatus::Rejected
}

fn counts_for_notional(status: OrderStatus) -> bool {
    !matches!(
        status,
        OrderStatus::Rejected | OrderStatus::Failed | OrderStatus::Expired
    )
}

fn is_unsettled(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Pending | OrderStatus::Unknown)
}

fn is_confirmed(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Placed
            | OrderStatus::Validated
            | OrderStatus::PartiallyFilled
            | OrderStatus::Filled
            | OrderStatus::Canceled
    )
}

/// Start of the UTC day of `now`.
pub fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

fn bump(map: &mut HashMap<String, u32>, key: &str, up: bool) {
    if up {
        *map.entry(key.to_owned()).or_default() += 1;
    } else if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

impl RiskLedger {
    /// The state the rules see for `query`. Takes `&mut self` to let the windows slide
    /// to `query.now` first.
    pub fn state_for(&mut self, query: &StateQuery<'_>) -> RiskState {
        self.slide(query.now);
        let bought_since_balance = match query.balance_at {
            Some(at) => self.bought_since(query.base_pairs, at),
            None => Decimal::ZERO,
        };
        let count = |map: &HashMap<String, u32>, key: &str| map.get(key).copied().unwrap_or(0);
        RiskState {
            halt: self.halt.clone(),
            orders_last_minute: u32::try_from(self.window.len()).unwrap_or(u32::MAX),
            pair_orders_last_minute: count(&self.pair_counts, query.pair),
            source_orders_last_minute: count(&self.source_counts, query.source),
            daily_notional: self.daily_notional,
            bought_since_balance,
        }
    }

    /// Drops what has left the windows at `now` and starts a new day's notional at
    /// midnight UTC. Orders are appended in commit order, with `now` read by the one
    /// writer, so the front is always the oldest.
    fn slide(&mut self, now: DateTime<Utc>) {
        let edge = now - Duration::seconds(RATE_WINDOW_SECS);
        while self.window.front().is_some_and(|r| r.created_at <= edge) {
            if let Some(old) = self.window.pop_front() {
                bump(&mut self.pair_counts, &old.pair, false);
                bump(&mut self.source_counts, &old.source, false);
            }
        }
        let today = now.date_naive();
        if self.day.is_some_and(|day| day < today) || self.day.is_none() {
            self.day = Some(today);
            self.daily_notional = Decimal::ZERO;
        }
        let keep_from = now - Duration::minutes(CONFIRMED_RETENTION_MINUTES);
        if self.confirmed.values().any(|c| c.at < keep_from) {
            self.confirmed.retain(|_, c| c.at >= keep_from);
        }
    }

    fn bought_since(&self, pairs: &[String], balance_at: DateTime<Utc>) -> Decimal {
        let since = balance_at - Duration::seconds(BALANCE_LAG_SECS);
        let unsettled = pairs
            .iter()
            .filter_map(|pair| self.unsettled_buys.get(pair))
            .fold(Decimal::ZERO, |sum, v| sum.saturating_add(*v));
        let resting = self
            .open
            .values()
            .filter(|o| o.at < since && pairs.contains(&o.pair))
            .fold(unsettled, |sum, o| sum.saturating_add(o.volume));
        self.confirmed
            .values()
            .filter(|c| c.at >= since && pairs.contains(&c.pair))
            .fold(resting, |sum, c| sum.saturating_add(c.volume))
    }

    fn is_today(&self, at: DateTime<Utc>) -> bool {
        self.day == Some(at.date_naive())
    }

    /// Accounts for an order recorded with `status` at `order.created_at`.
    pub fn on_insert(&mut self, order: &OrderFacts<'_>, status: OrderStatus) {
        self.slide(order.created_at);
        if counts_for_rate(status) {
            bump(&mut self.pair_counts, order.pair, true);
            bump(&mut self.source_counts, order.source, true);
            self.window.push_back(Recent {
                created_at: order.created_at,
                pair: order.pair.to_owned(),
                source: order.source.to_owned(),
            });
        }
        if counts_for_notional(status) && self.is_today(order.created_at) {
            if let Some(notional) = order.notional {
                self.daily_notional = self.daily_notional.saturating_add(notional);
            }
        }
        if order.side == Side::Buy && is_unsettled(status) {
            if let Some(volume) = order.volume {
                let sum = self
                    .unsettled_buys
                    .entry(order.pair.to_owned())
                    .or_default();
                *sum = sum.saturating_add(volume);
            }
        }
    }

    /// Accounts for an order moving from `from` to `to` at `at`.
    pub fn on_change(
        &mut self,
        order: &OrderFacts<'_>,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) {
        self.slide(at);
        if counts_for_notional(from) && !counts_for_notional(to) && self.is_today(order.created_at)
        {
            if let Some(notional) = order.notional {
                self.daily_notional = self.daily_notional.saturating_sub(notional);
            }
        }
        let (Side::Buy, Some(volume)) = (order.side, order.volume) else {
            return;
        };
        if is_unsettled(from) && !is_unsettled(to) {
            if let Some(sum) = self.unsettled_buys.get_mut(order.pair) {
                *sum = sum.saturating_sub(volume);
                if sum.is_zero() {
                    self.unsettled_buys.remove(order.pair);
                }
            }
        }
        self.open.remove(&order.client_order_id);
        if to.is_open() && order.can_rest {
            let filled = order.filled.unwrap_or_default();
            let resting = Confirmed {
                at,
                pair: order.pair.to_owned(),
                volume: volume.saturating_sub(filled).max(Decimal::ZERO),
            };
            self.open.insert(order.client_order_id, resting);
        }
        if is_confirmed(to) {
            let confirmed = Confirmed {
                at,
                pair: order.pair.to_owned(),
                volume,
            };
            self.confirmed.insert(order.id, confirmed);
        }
    }

    /// The kill switch, while it is on.
    pub fn halt(&self) -> Option<&Halt> {
        self.halt.as_ref()
    }

    /// Sets the kill switch (as committed by the writer).
    pub fn set_halt(&mut self, halt: Option<Halt>) {
        self.halt = halt;
    }

    /// Exchange failures in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Sets the circuit breaker's count (as committed by the writer).
    pub fn set_failures(&mut self, failures: u32) {
        self.failures = failures;
    }

    /// Loads the state as of `now` with queries bounded by each window (the rate
    /// window, today, the open buys, the confirmation retention). Each names its index:
    /// left to itself, SQLite answered `status IN ('placed', 'validated')` from the
    /// status index, reading nearly every order of the history (0.5 s at 1,000,000).
    pub async fn load(
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
    ) -> Result<Self, sqlx::Error> {
        let mut ledger = RiskLedger {
            day: Some(now.date_naive()),
            halt: control::is_halted(conn).await?,
            failures: control::consecutive_failures(conn).await?,
            ..RiskLedger::default()
        };
        let edge = now - Duration::seconds(RATE_WINDOW_SECS);
        let recent: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT created_at, pair, source FROM orders INDEXED BY orders_accepted_by_created
             WHERE status <> 'rejected' AND created_at > ? ORDER BY created_at, id",
        )
        .bind(edge.timestamp_millis())
        .fetch_all(&mut *conn)
        .await?;
        for (created_at, pair, source) in recent {
            bump(&mut ledger.pair_counts, &pair, true);
            bump(&mut ledger.source_counts, &source, true);
            let created_at = crate::store::from_millis(created_at);
            ledger.window.push_back(Recent {
                created_at,
                pair,
                source,
            });
        }
        let notionals: Vec<String> = sqlx::query_scalar(
            "SELECT notional FROM orders INDEXED BY orders_accepted_by_created
             WHERE status <> 'rejected' AND created_at >= ?
               AND status NOT IN ('failed', 'expired') AND notional IS NOT NULL",
        )
        .bind(start_of_day(now).timestamp_millis())
        .fetch_all(&mut *conn)
        .await?;
        for text in notionals {
            ledger.daily_notional = ledger
                .daily_notional
                .saturating_add(parse("notional", &text)?);
        }
        let open: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT pair, volume FROM orders INDEXED BY orders_by_status
             WHERE status IN ('pending', 'unknown') AND side = 'buy'",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (pair, volume) in open {
            if let Some(volume) = volume {
                let sum = ledger.unsettled_buys.entry(pair).or_default();
                *sum = sum.saturating_add(parse("volume", &volume)?);
            }
        }
        let keep_from = now - Duration::minutes(CONFIRMED_RETENTION_MINUTES);
        let confirmed: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, updated_at, pair, volume FROM orders INDEXED BY orders_accepted_by_updated
             WHERE status <> 'rejected' AND updated_at >= ?
               AND status IN ('placed', 'validated', 'partially_filled', 'filled', 'canceled')
               AND side = 'buy'
             ORDER BY updated_at, id",
        )
        .bind(keep_from.timestamp_millis())
        .fetch_all(&mut *conn)
        .await?;
        for (id, at, pair, volume) in confirmed {
            if let Some(volume) = volume {
                ledger.confirmed.insert(
                    id,
                    Confirmed {
                        at: crate::store::from_millis(at),
                        pair,
                        volume: parse("volume", &volume)?,
                    },
                );
            }
        }
        let open: Vec<OpenRow> = sqlx::query_as(
            "SELECT client_order_id, updated_at, pair, volume, filled_volume
             FROM orders INDEXED BY orders_resting_buys
             WHERE status IN ('placed', 'partially_filled') AND side = 'buy'
               AND order_type <> 'market'",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (id, at, pair, volume, filled) in open {
            let Some(volume) = volume else { continue };
            let id = id
                .parse()
                .map_err(|e| sqlx::Error::Decode(format!("orders.client_order_id: {e}").into()))?;
            let filled = filled.map(|f| parse("filled_volume", &f)).transpose()?;
            let remainder = parse("volume", &volume)?
                .saturating_sub(filled.unwrap_or_default())
                .max(Decimal::ZERO);
            let resting = Confirmed {
                at: crate::store::from_millis(at),
                pair,
                volume: remainder,
            };
            ledger.open.insert(id, resting);
        }
        Ok(ledger)
    }
}

/// An open buy as loaded: client order ID, last change, pair, volume, filled volume.
type OpenRow = (String, i64, String, Option<String>, Option<String>);

fn parse(column: &str, text: &str) -> Result<Decimal, sqlx::Error> {
    Decimal::from_str(text).map_err(|err| {
        sqlx::Error::Decode(format!("orders.{column} `{text}` is not a decimal: {err}").into())
    })
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
