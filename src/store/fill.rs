//! A fill planned by the writer: the `fills` row, the order's totals and status, its
//! audit event, and the risk ledger, decided in memory (a trade id already recorded,
//! or seen earlier in the batch, is a duplicate and changes nothing).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{EventText, Plan};
use super::claim::facts;
use super::orders::{ChangeError, OrderRecord};
use crate::fills::{FillOutcome, FillReport};
use crate::order::{transition, OrderStatus};
use crate::risk::ledger::RiskLedger;

/// Applies `fill` to its order in `current` (kept up to date as the batch is planned),
/// `seen` (trade ids recorded or planned), the ledger and the plan. Pure: no I/O.
///
/// The order becomes `filled` only when the exchange says the trade completed it
/// ([`FillReport::completes`]; Kraken may report the last trade as `partially_filled`),
/// `partially_filled` otherwise. A late fill of an order already `filled` or `canceled`
/// is recorded and counted, and the status stays.
pub fn plan(
    plan: &mut Plan,
    ledger: &mut RiskLedger,
    current: &mut HashMap<Uuid, OrderRecord>,
    seen: &mut HashSet<String>,
    fill: &FillReport,
    now: DateTime<Utc>,
) -> Result<FillOutcome, ChangeError> {
    if seen.contains(&fill.trade_id) {
        return Ok(FillOutcome::Duplicate);
    }
    let order = current
        .get_mut(&fill.client_order_id)
        .ok_or(ChangeError::NotFound(fill.client_order_id))?;
    let from = order.status;
    let wanted = if fill.completes {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
    let to = match from {
        OrderStatus::Filled | OrderStatus::Canceled => from,
        _ => transition(from, wanted)?,
    };
    seen.insert(fill.trade_id.clone());
    order.status = to;
    order.execution.add(fill);
    order.updated_at = now;
    let record = order.clone();
    plan.update(record.clone());
    plan.fill(record.id, fill.clone());
    plan.event(record.id, to, event_text(fill), now);
    ledger.on_change(&facts(&record), from, to, now);
    Ok(FillOutcome::Recorded(Box::new(record)))
}

fn event_text(fill: &FillReport) -> EventText {
    EventText {
        cause: format!(
            "fill {}: {} at {}, fee {} {} ({})",
            fill.trade_id,
            fill.volume,
            fill.price,
            fill.fee,
            fill.fee_currency,
            fill.liquidity.as_str()
        ),
        request: None,
        response: serde_json::to_string(fill).ok(),
        elapsed: None,
    }
}

/// One fill as a batch of its own, written on `conn` (no transaction): for tests of
/// what the writer does.
#[cfg(test)]
pub(crate) async fn apply(
    conn: &mut sqlx::SqliteConnection,
    ledger: &mut RiskLedger,
    fill: &FillReport,
    now: DateTime<Utc>,
) -> Result<FillOutcome, ChangeError> {
    let mut known = super::batch::find_many(conn, &[fill.client_order_id]).await?;
    let mut seen = crate::fills::sql::known_trades(conn, &[fill.trade_id.as_str()]).await?;
    let mut batch = Plan::default();
    let outcome = plan(&mut batch, ledger, &mut known, &mut seen, fill, now)?;
    batch.write(conn, now).await?;
    Ok(outcome)
}

#[cfg(test)]
#[path = "fill_tests.rs"]
mod tests;
