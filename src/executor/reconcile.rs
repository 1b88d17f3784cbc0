//! Reconciliation: settling an order whose outcome is unknown by looking it up at the
//! exchange by its client order ID (or userref), never by resending.
//!
//! A just-placed order can be invisible for a moment, so "not found" settles nothing
//! until the order's deadline (plus a grace period for clock skew) has passed: after
//! that, the matching engine would have refused it, so an order Kraken does not know
//! was never accepted and is `expired`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Executor, FRESH_WINDOW};
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

/// A lookup as an audit event: what was asked, the raw answer and how long it took.
fn lookup_event<'a>(cause: &'a str, lookup: &'a Lookup, elapsed: Duration) -> NewEvent<'a> {
    NewEvent {
        cause,
        request: Some(&lookup.request),
        response: lookup.response.as_deref(),
        elapsed: Some(elapsed),
    }
}

impl Executor {
    /// Looks `request` up until the exchange settles it or the service shuts down
    /// (then the order stays `unknown` and the next start resumes). `claimed_at` is
    /// when the order was recorded, for `exchange.resend_expired`.
    pub(super) async fn reconcile(&self, request: &OrderRequest, claimed_at: DateTime<Utc>) {
        let id = request.client_order_id;
        let mut pause = LOOKUP_PAUSE;
        let mut logged_not_found = false;
        loop {
            let started = Instant::now();
            let lookup = self.inner.exchange.find_order(request).await;
            let elapsed = started.elapsed();
            match &lookup.outcome {
                LookupOutcome::Found { txid, state } => {
                    let cause = format!("found at the exchange by lookup: txid {txid}, {state}");
                    let change = Change {
                        event: lookup_event(&cause, &lookup, elapsed),
                        txid: Some(txid),
                        ..Change::default()
                    };
                    self.record(id, OrderStatus::Placed, &change, Effect::Reset)
                        .await;
                    return;
                }
                LookupOutcome::NotFound if self.now() > request.deadline + DEADLINE_GRACE => {
                    if self.may_resend(claimed_at) {
                        self.resend(request, &lookup, elapsed).await;
                        return;
                    }
                    let cause = "not found at the exchange after its deadline: never accepted";
                    let change = Change {
                        event: lookup_event(cause, &lookup, elapsed),
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
                            event: lookup_event(cause, &lookup, elapsed),
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

    /// Whether an order proven never accepted may be sent again: only when
    /// `exchange.resend_expired` is on and the signal is still fresh.
    fn may_resend(&self, claimed_at: DateTime<Utc>) -> bool {
        self.inner.config.resend_expired && self.now() - claimed_at < FRESH_WINDOW
    }

    /// Sends an order again with a new deadline. Safe: its deadline has passed and the
    /// exchange does not know it, so the first request can no longer be accepted.
    async fn resend(&self, request: &OrderRequest, lookup: &Lookup, elapsed: Duration) {
        let deadline = self.now() + self.inner.config.deadline();
        let cause = "not found at the exchange after its deadline: never accepted; \
                     resending with a new deadline (exchange.resend_expired)";
        let change = Change {
            event: lookup_event(cause, lookup, elapsed),
            deadline: Some(deadline),
            ..Change::default()
        };
        let id = request.client_order_id;
        if let Some(record) = self
            .record(id, OrderStatus::Pending, &change, Effect::None)
            .await
        {
            Box::pin(self.send(record)).await;
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
        self.reconcile(&request, order.created_at).await;
    }
}
