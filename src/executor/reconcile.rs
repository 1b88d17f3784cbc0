//! Reconciliation: settling an order whose outcome is unknown by looking it up at the
//! exchange by its client order ID (or userref), never by resending.
//!
//! A just-placed order can be invisible for a moment, so "not found" settles nothing
//! until the order's deadline (plus a grace period for clock skew) has passed: after
//! that, the matching engine would have refused it, so an order Kraken does not know
//! was never accepted and is `expired`.

use std::time::Duration;

use super::Executor;
use crate::exchange::{Lookup, LookupOutcome, OrderRequest};
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::store::events::NewEvent;
use crate::store::orders::{Change, OrderRecord};

/// How long after the deadline "not found" becomes conclusive (clock skew, latency).
const DEADLINE_GRACE: chrono::Duration = chrono::Duration::seconds(5);
/// Pause between lookups; doubled while they keep failing.
const LOOKUP_PAUSE: Duration = Duration::from_millis(500);
const LOOKUP_PAUSE_MAX: Duration = Duration::from_secs(30);

fn lookup_event<'a>(cause: &'a str, lookup: &'a Lookup) -> NewEvent<'a> {
    NewEvent {
        cause,
        request: Some(&lookup.request),
        response: lookup.response.as_deref(),
    }
}

impl Executor {
    /// Looks `request` up until the exchange settles it or the service shuts down
    /// (then the order stays `unknown` and the next start resumes).
    pub(super) async fn reconcile(&self, request: &OrderRequest) {
        let id = request.client_order_id;
        let mut pause = LOOKUP_PAUSE;
        let mut logged_not_found = false;
        loop {
            let lookup = self.inner.exchange.find_order(request).await;
            match &lookup.outcome {
                LookupOutcome::Found { txid, state } => {
                    let cause = format!("found at the exchange by lookup: txid {txid}, {state}");
                    let change = Change {
                        event: lookup_event(&cause, &lookup),
                        txid: Some(txid),
                        ..Change::default()
                    };
                    self.record(id, OrderStatus::Placed, &change, Effect::Reset)
                        .await;
                    return;
                }
                LookupOutcome::NotFound if self.now() > request.deadline + DEADLINE_GRACE => {
                    let cause = "not found at the exchange after its deadline: never accepted";
                    let change = Change {
                        event: lookup_event(cause, &lookup),
                        ..Change::default()
                    };
                    self.record(id, OrderStatus::Expired, &change, Effect::None)
                        .await;
                    return;
                }
                LookupOutcome::NotFound => {
                    if !logged_not_found {
                        logged_not_found = true;
                        let cause = "not visible at the exchange yet; waiting for the deadline";
                        let change = Change {
                            event: lookup_event(cause, &lookup),
                            ..Change::default()
                        };
                        self.record(id, OrderStatus::Unknown, &change, Effect::None)
                            .await;
                    }
                    pause = LOOKUP_PAUSE;
                }
                LookupOutcome::Failed { reason } => {
                    tracing::warn!(order = %id, %reason, "order lookup failed; will retry");
                    pause = (pause * 2).min(LOOKUP_PAUSE_MAX);
                }
            }
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Settles one order left unsettled by an earlier run. Whether a `pending` order
    /// left before the crash cannot be known, so it is treated as `unknown`.
    pub(super) async fn recover_one(&self, order: OrderRecord) {
        let id = order.client_order_id;
        let request = match self.request_for(&order).await {
            Ok(request) => request,
            Err(problem) => {
                tracing::error!(order = %id, %problem, "cannot reconcile an unsettled order");
                return;
            }
        };
        if order.status == OrderStatus::Pending {
            let cause = "recovery: the previous run stopped before recording an outcome";
            let change = Change {
                event: NewEvent {
                    cause,
                    ..NewEvent::default()
                },
                ..Change::default()
            };
            if self
                .record(id, OrderStatus::Unknown, &change, Effect::None)
                .await
                .is_none()
            {
                return;
            }
        }
        self.reconcile(&request).await;
    }
}
