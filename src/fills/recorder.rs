//! Carries what the exchange reports (fills, completions, cancels) to the writer: one
//! task draining the exchange's stream, recording each fill once (the writer drops a
//! repeated trade id) and each completion or cancel as a status change.
//!
//! A report about an order this service did not place is ignored and logged once per
//! order; a report the store could not take (a failed batch) is retried with backoff,
//! never dropped, since the exchange will not repeat it until the next snapshot. A
//! completion or cancel the order's status cannot take (it was cancelled by a user
//! already, or is seen again in a snapshot) changes nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{ExecutionEvent, FillOutcome};
use crate::exchange::Exchange;
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::store::orders::{Change, ChangeError};
use crate::store::transition::StatusChange;
use crate::store::{Store, StoreError};

/// Longest wait between two attempts at recording one report.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Records every report from `events` until the stream ends; `exchange` is asked
/// about open orders after each resynchronisation.
pub async fn run(
    store: Store,
    exchange: Arc<dyn Exchange>,
    mut events: mpsc::UnboundedReceiver<ExecutionEvent>,
) {
    let mut foreign: HashSet<Uuid> = HashSet::new();
    while let Some(event) = events.recv().await {
        if event == ExecutionEvent::Resynced {
            // Missed trades first, so an order's completion comes after its fills.
            for missed in super::gap_fill::missed_fills(&store, exchange.as_ref()).await {
                record(&store, &mut foreign, missed).await;
            }
            for settled in resync(&store, exchange.as_ref()).await {
                record(&store, &mut foreign, settled).await;
            }
        } else {
            record(&store, &mut foreign, event).await;
        }
    }
}

/// What the exchange says of the orders still open here, as reports.
async fn resync(store: &Store, exchange: &dyn Exchange) -> Vec<ExecutionEvent> {
    let open = match crate::store::orders::open_on_exchange(store.reader()).await {
        Ok(open) => open,
        Err(err) => {
            tracing::warn!(error = %err, "resync: cannot read the open orders");
            return Vec::new();
        }
    };
    let txids: Vec<String> = open.iter().filter_map(|o| o.txid.clone()).collect();
    if txids.is_empty() {
        return Vec::new();
    }
    let states = match exchange.order_states(&txids).await {
        Ok(states) => states,
        Err(err) => {
            tracing::warn!(error = %err, "resync: the exchange did not say how open orders stand");
            return Vec::new();
        }
    };
    open.iter()
        .filter_map(|order| {
            let state = states.get(order.txid.as_deref()?)?;
            let client_order_id = order.client_order_id;
            let found = "found by QueryOrders after the executions feed reconnected";
            match state.as_str() {
                "closed" => Some(ExecutionEvent::Completed {
                    client_order_id,
                    detail: format!("Kraken reports the order closed ({found})"),
                }),
                "canceled" | "expired" => Some(ExecutionEvent::Canceled {
                    client_order_id,
                    cause: format!("canceled by the exchange: {state} ({found})"),
                }),
                _ => None,
            }
        })
        .collect()
}

fn order_of(event: &ExecutionEvent) -> Option<Uuid> {
    Some(match event {
        ExecutionEvent::Resynced => return None,
        ExecutionEvent::Fill(fill) => fill.client_order_id,
        ExecutionEvent::Completed {
            client_order_id, ..
        }
        | ExecutionEvent::Canceled {
            client_order_id, ..
        } => *client_order_id,
    })
}

async fn apply(store: &Store, event: &ExecutionEvent) -> Result<String, ChangeError> {
    let (client_order_id, to, cause) = match event {
        ExecutionEvent::Fill(fill) => {
            return match store.fill(fill.clone()).await? {
                FillOutcome::Recorded(order) => {
                    Ok(format!("fill recorded; order {}", order.status))
                }
                FillOutcome::Duplicate => Ok("fill already recorded".into()),
            };
        }
        ExecutionEvent::Completed {
            client_order_id,
            detail,
        } => (*client_order_id, OrderStatus::Filled, detail.clone()),
        ExecutionEvent::Canceled {
            client_order_id,
            cause,
        } => (*client_order_id, OrderStatus::Canceled, cause.clone()),
        ExecutionEvent::Resynced => return Ok("nothing to record".into()),
    };
    let change = StatusChange {
        client_order_id,
        to,
        change: Change::because(cause),
        effect: Effect::None,
        breaker_limit: None,
    };
    store
        .change(change)
        .await
        .map(|order| format!("order {}", order.status))
}

/// Records one report, retrying while the store fails.
async fn record(store: &Store, foreign: &mut HashSet<Uuid>, event: ExecutionEvent) {
    let mut delay = Duration::from_millis(50);
    let Some(order) = order_of(&event) else {
        return;
    };
    loop {
        match apply(store, &event).await {
            Ok(what) => {
                tracing::debug!(%order, "{what}");
                return;
            }
            Err(ChangeError::NotFound(id)) => {
                if foreign.insert(id) {
                    tracing::warn!(order = %id, "a report of an order tradehook did not place; ignored");
                }
                return;
            }
            Err(ChangeError::Illegal(err)) => {
                tracing::debug!(%order, error = %err, "a report the order's status cannot take; nothing changed");
                return;
            }
            Err(ChangeError::Store(StoreError::WriterGone)) => {
                tracing::warn!(%order, "the store is closed; report not recorded");
                return;
            }
            Err(ChangeError::Store(err)) => {
                tracing::warn!(%order, error = %err, "recording a report failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}
