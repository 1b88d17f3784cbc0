//! Carries fills from the exchange to the writer: one task draining the exchange's
//! fill stream, recording each fill once (the writer drops a repeated trade id).
//!
//! A fill for an order this service did not place is ignored and logged once per
//! order; a fill the store could not take (a failed batch) is retried with backoff,
//! never dropped, since the exchange will not repeat it until the next snapshot.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{FillOutcome, FillReport};
use crate::store::orders::ChangeError;
use crate::store::Store;

/// Longest wait between two attempts at recording one fill.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Records every fill from `fills` until the stream ends.
pub async fn run(store: Store, mut fills: mpsc::UnboundedReceiver<FillReport>) {
    let mut foreign: HashSet<Uuid> = HashSet::new();
    while let Some(fill) = fills.recv().await {
        record(&store, &mut foreign, fill).await;
    }
}

/// Records one fill, retrying while the store fails.
async fn record(store: &Store, foreign: &mut HashSet<Uuid>, fill: FillReport) {
    let mut delay = Duration::from_millis(50);
    loop {
        match store.fill(fill.clone()).await {
            Ok(FillOutcome::Recorded(order)) => {
                tracing::info!(order = %order.client_order_id, trade = %fill.trade_id,
                    status = %order.status, "fill recorded");
                return;
            }
            Ok(FillOutcome::Duplicate) => {
                tracing::debug!(trade = %fill.trade_id, "fill already recorded");
                return;
            }
            Err(ChangeError::NotFound(id)) => {
                if foreign.insert(id) {
                    tracing::warn!(order = %id, "a fill of an order tradehook did not place; ignored");
                }
                return;
            }
            Err(ChangeError::Illegal(err)) => {
                tracing::error!(trade = %fill.trade_id, order = %fill.client_order_id,
                    error = %err, "a fill the order's status cannot take; not recorded");
                return;
            }
            Err(ChangeError::Store(crate::store::StoreError::WriterGone)) => {
                tracing::warn!(trade = %fill.trade_id, "the store is closed; fill not recorded");
                return;
            }
            Err(ChangeError::Store(err)) => {
                tracing::warn!(trade = %fill.trade_id, error = %err, "recording a fill failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}
