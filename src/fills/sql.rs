//! The `fills` table: which trade ids are recorded, and appending new fills inside the
//! writer's batch transaction.

use std::collections::HashSet;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::FillReport;
use crate::store::{to_millis, StoreError};

/// Rows per multi-row statement (9 values a row).
const CHUNK: usize = 500;

/// A fill to append to the order with row id `order_id`.
#[derive(Debug, Clone)]
pub(crate) struct FillRow {
    pub order_id: i64,
    pub report: FillReport,
}

/// Which of `trade_ids` are already recorded.
pub(crate) async fn known_trades(
    conn: &mut SqliteConnection,
    trade_ids: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let mut known = HashSet::new();
    for chunk in trade_ids.chunks(CHUNK) {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT trade_id FROM fills WHERE trade_id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        let rows: Vec<String> = query.build_query_scalar().fetch_all(&mut *conn).await?;
        known.extend(rows);
    }
    Ok(known)
}

/// Appends `rows`, recorded at `recorded_at` (Unix ms).
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    rows: &[FillRow],
    recorded_at: i64,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO fills (order_id, trade_id, volume, price, cost, fee, fee_currency, \
             liquidity, at, recorded_at) ",
        );
        sql.push_values(chunk, |mut row, fill| {
            let report = &fill.report;
            row.push_bind(fill.order_id)
                .push_bind(report.trade_id.clone())
                .push_bind(report.volume.to_string())
                .push_bind(report.price.to_string())
                .push_bind(report.cost().normalize().to_string())
                .push_bind(report.fee.to_string())
                .push_bind(report.fee_currency.clone())
                .push_bind(report.liquidity.as_str())
                .push_bind(to_millis(report.at))
                .push_bind(recorded_at);
        });
        sql.build().execute(&mut *conn).await?;
    }
    Ok(())
}
