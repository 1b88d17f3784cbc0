//! The audit listing (`GET /v1/orders`, the export, `tradehook audit`): the orders that
//! match a filter, newest first, found by index seeks however long the history is.
//!
//! Three ideas, with the indexes of migration 0005:
//!
//! - **Time as ids.** `since`/`until` filter on `created_at`, but pages are read in id
//!   order. The time range is first turned into an id range by two seeks per clock
//!   level (see [`super::clock`]: within a level `created_at` never falls as id grows),
//!   so a window 30 days back starts reading at its own rows instead of walking every
//!   newer one. The `created_at` filter is still applied to every row: the id range
//!   only narrows the scan, it never decides what matches.
//! - **One index per filter shape.** Every query names its index (`INDEXED BY`), chosen
//!   by `plan_for` so that its equality columns are exactly the filters given and the
//!   rows come out in id order, with no sort and no row read only to be thrown away.
//! - **Merging over few values.** status and source have a handful of values each. A
//!   filter that leaves one out is answered by one seek per value (each status this
//!   binary writes; each source in the table, found by a loose index scan), merged by
//!   id (`UNION ALL … ORDER BY id`, which SQLite runs as a lazy merge that stops after
//!   one page). That lets four composite indexes serve all sixteen combinations of
//!   status, pair, source and strategy exactly.

use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::clock::{first_at_or_after, last_before};
use super::orders::{OrderFilter, OrderRecord, OrderRow, COLUMNS};
use super::{to_millis, StoreError};
use crate::order::OrderStatus;

/// Most seeks one page may merge. More sources than this allows (over 18 with 7
/// statuses) make the page fall back to one index and a row-by-row check of the rest:
/// still correct, slower.
const MAX_BRANCHES: usize = 128;

/// Orders matching `filter`, newest first, at most `limit`.
pub async fn list(
    reader: &SqlitePool,
    filter: &OrderFilter,
    limit: u32,
) -> Result<Vec<OrderRecord>, StoreError> {
    let plan = plan_for(filter);
    let statuses: Vec<Option<String>> = match filter.status {
        Some(status) => vec![Some(status.as_str().to_owned())],
        // The statuses are this binary's own: it writes no other.
        None if plan.each_status => OrderStatus::ALL
            .iter()
            .map(|s| Some(s.as_str().to_owned()))
            .collect(),
        None => vec![None],
    };
    let rows = if plan.each_source {
        // The source list and the page must see one snapshot, or an order from a
        // source first seen between the two statements would be missing from the page.
        let mut tx = reader.begin().await?;
        let sources: Vec<String> = sqlx::query_scalar(PRESENT_SOURCES)
            .fetch_all(&mut *tx)
            .await?;
        let sources: Vec<Option<String>> = sources.into_iter().map(Some).collect();
        let page = if statuses.len() * sources.len() > MAX_BRANCHES {
            let (status, source) = given(filter);
            page_statement(filter, fallback(filter), &status, &source, limit)
        } else {
            page_statement(filter, plan, &statuses, &sources, limit)
        };
        let rows = page.fetch(&mut tx).await?;
        tx.rollback().await?;
        rows
    } else {
        let sources = vec![filter.source.clone()];
        let page = page_statement(filter, plan, &statuses, &sources, limit);
        let mut conn = reader.acquire().await?;
        page.fetch(&mut conn).await?
    };
    rows.into_iter().map(OrderRecord::try_from).collect()
}

/// The status and source of the filter as one-value lists (`None`: no condition).
fn given(filter: &OrderFilter) -> (Vec<Option<String>>, Vec<Option<String>>) {
    (
        vec![filter.status.map(|s| s.as_str().to_owned())],
        vec![filter.source.clone()],
    )
}

/// A bound parameter.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Text(String),
}

/// SQL text and its parameters, in order; kept apart so tests can `EXPLAIN` it.
#[derive(Debug, Default)]
struct Statement {
    sql: String,
    binds: Vec<Value>,
}

impl Statement {
    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    fn bind(&mut self, sql: &str, value: Value) {
        self.sql.push_str(sql);
        self.binds.push(value);
    }

    /// The page's rows; none for an empty statement (nothing can match).
    async fn fetch(&self, conn: &mut SqliteConnection) -> Result<Vec<OrderRow>, sqlx::Error> {
        if self.sql.is_empty() {
            return Ok(Vec::new());
        }
        self.query_as::<OrderRow>().fetch_all(conn).await
    }

    fn query_as<'q, T>(
        &'q self,
    ) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, T, sqlx::sqlite::SqliteArguments<'q>>
    where
        T: for<'r> FromRow<'r, SqliteRow>,
    {
        let mut query = sqlx::query_as::<_, T>(&self.sql);
        for value in &self.binds {
            query = match value {
                Value::Int(n) => query.bind(*n),
                Value::Text(text) => query.bind(text.as_str()),
            };
        }
        query
    }
}

/// Which index answers a filter, and over which columns it merges one seek per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// `None`: the table itself, in rowid order.
    index: Option<&'static str>,
    /// The filter has no status: one seek per status present.
    each_status: bool,
    /// The filter has no source: one seek per source present.
    each_source: bool,
}

/// The index whose equality columns are exactly the filter's, using the merge over
/// status and source values when the filter leaves those out. Filters of one column
/// use the single-column indexes of migration 0001 directly.
fn plan_for(filter: &OrderFilter) -> Plan {
    let status = filter.status.is_some();
    let source = filter.source.is_some();
    let only = |index| Plan {
        index: Some(index),
        each_status: false,
        each_source: false,
    };
    let merged = |index| Plan {
        index: Some(index),
        each_status: !status,
        each_source: !source,
    };
    match (filter.pair.is_some(), filter.strategy.is_some()) {
        (false, false) => match (status, source) {
            (false, false) => Plan {
                index: None,
                each_status: false,
                each_source: false,
            },
            (true, false) => only("orders_by_status"),
            (false, true) => only("orders_by_source"),
            (true, true) => only("orders_by_source_status"),
        },
        (true, false) if !status && !source => only("orders_by_pair"),
        (true, false) => merged("orders_by_pair_source_status"),
        (false, true) if !status && !source => only("orders_by_strategy"),
        (false, true) => merged("orders_by_strategy_source_status"),
        (true, true) => merged("orders_by_pair_strategy_source_status"),
    }
}

/// The plan when the merge would take too many seeks: the pair's or the strategy's
/// own index, checking the other filters row by row.
fn fallback(filter: &OrderFilter) -> Plan {
    let index = if filter.pair.is_some() {
        "orders_by_pair"
    } else {
        "orders_by_strategy"
    };
    Plan {
        index: Some(index),
        each_status: false,
        each_source: false,
    }
}

/// The one statement that reads a page: one branch per (status, source) value pair,
/// merged newest first, each seeking within the id range of the time range and the
/// cursor. Empty SQL when there is nothing to read (no values present).
fn page_statement(
    filter: &OrderFilter,
    plan: Plan,
    statuses: &[Option<String>],
    sources: &[Option<String>],
    limit: u32,
) -> Statement {
    if statuses.is_empty() || sources.is_empty() {
        return Statement::default();
    }
    let mut statement = Statement::default();
    let before = filter.before_id.map_or(i64::MAX, |id| id.saturating_sub(1));
    // With a time range, its id bounds are computed once, ahead of the branches.
    let timed = filter.since.is_some() || filter.until.is_some();
    if timed {
        statement.push("WITH bounds(lo, hi) AS MATERIALIZED (SELECT ");
        match filter.since {
            Some(since) => statement.bind(&first_at_or_after(), Value::Int(to_millis(since))),
            None => statement.bind("?", Value::Int(i64::MIN)),
        }
        match filter.until {
            Some(until) => {
                statement.bind(", min(?", Value::Int(before));
                statement.bind(
                    &format!(", {})) ", last_before()),
                    Value::Int(to_millis(until)),
                );
            }
            None => statement.bind(", ?) ", Value::Int(before)),
        }
    }
    let from = match plan.index {
        Some(index) => format!(" FROM orders INDEXED BY {index}"),
        None => " FROM orders NOT INDEXED".to_owned(),
    };
    let mut first = true;
    for status in statuses {
        for source in sources {
            if !first {
                statement.push(" UNION ALL ");
            }
            first = false;
            statement.push(&format!("SELECT {COLUMNS}{from}"));
            if timed {
                statement
                    .push(" WHERE id >= (SELECT lo FROM bounds) AND id <= (SELECT hi FROM bounds)");
            } else {
                statement.bind(" WHERE id <= ?", Value::Int(before));
            }
            let text = |v: &Option<String>| v.clone().map(Value::Text);
            for (sql, value) in [
                (" AND status = ?", text(status)),
                (" AND source = ?", text(source)),
                (" AND pair = ?", text(&filter.pair)),
                (" AND strategy = ?", text(&filter.strategy)),
                (
                    " AND created_at >= ?",
                    filter.since.map(|t| Value::Int(to_millis(t))),
                ),
                (
                    " AND created_at < ?",
                    filter.until.map(|t| Value::Int(to_millis(t))),
                ),
            ] {
                if let Some(value) = value {
                    statement.bind(sql, value);
                }
            }
        }
    }
    statement.bind(" ORDER BY id DESC LIMIT ?", Value::Int(i64::from(limit)));
    statement
}

/// Every source present in the table, by one seek per value: a loose index scan,
/// which SQLite has no operator for, so the recursion asks the index for the next
/// value after the last one.
const PRESENT_SOURCES: &str = "WITH RECURSIVE sources(x) AS (
        SELECT (SELECT min(source) FROM orders INDEXED BY orders_by_source)
        UNION ALL
        SELECT (SELECT min(source) FROM orders INDEXED BY orders_by_source WHERE source > x)
        FROM sources WHERE x IS NOT NULL)
    SELECT x FROM sources WHERE x IS NOT NULL";

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "listing_plan_tests.rs"]
mod plan_tests;
