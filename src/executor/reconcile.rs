//! Reconciliation: settling an order whose outcome is unknown by looking it up at the
//! exchange by its client order ID (or userref), never by resending.
//!
//! A just-placed order can be invisible for a moment, so "not found" settles nothing
//! until the order's deadline (plus a grace period for clock skew) has passed: after
//! that, the matching engine would have refused it, so an order Kraken does not know
//! was never accepted and is `expired`.

use std::time::{Duration, Instant};

use super::tracker::Working;
use super::{Executor, DEADLINE_GRACE, FRESH_WINDOW};
use crate::exchange::{Lookup, LookupOutcome, OrderRequest};
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::store::orders::{Change, OrderRecord};

/// Pause between lookups; doubled while they keep failing.
const LOOKUP_PAUSE: Duration = Duration::from_millis(500);
const LOOKUP_PAUSE_MAX: Duration = Duration::from_secs(30);

/// How long start-up recovery may hold new orders back, beyond the deadline offset: an
/// order left by a crash is settled by one lookup once its deadline has passed, so
/// what is still unsettled after this cannot be settled soon (a lookup failing for
/// good) and goes on in the background instead of blocking trading.
const RECOVERY_EXTRA: Duration = Duration::from_secs(10);

/// A lookup as a status change: what was asked, the raw answer and how long it took.
fn lookup_change(cause: &str, lookup: &Lookup, elapsed: Duration) -> Change {
    Change {
        request: Some(lookup.request.clone()),
        response: lookup.response.clone(),
        elapsed: Some(elapsed),
        ..Change::because(cause)
    }
}

impl Executor {
    /// Looks `request` (the order `record`) up until the exchange settles it or the
    /// service shuts down (then the order stays `unknown` and the next start resumes).
    pub(super) async fn reconcile(&self, request: &OrderRequest, record: &OrderRecord) {
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
                        txid: Some(txid.clone()),
                        ..lookup_change(&cause, &lookup, elapsed)
                    };
                    self.record(id, OrderStatus::Placed, change, Effect::Reset)
                        .await;
                    return;
                }
                LookupOutcome::NotFound if self.now() > self.not_found_after(request) => {
                    if self.may_resend(record) {
                        self.resend(request, &lookup, elapsed).await;
                        return;
                    }
                    let cause = "not found at the exchange after its deadline: never accepted";
                    let change = lookup_change(cause, &lookup, elapsed);
                    self.record(id, OrderStatus::Expired, change, Effect::None)
                        .await;
                    return;
                }
                LookupOutcome::NotFound => {
                    if !logged_not_found {
                        logged_not_found = true;
                        let cause = "not visible at the exchange yet; waiting for the deadline";
                        let change = lookup_change(cause, &lookup, elapsed);
                        self.record(id, OrderStatus::Unknown, change, Effect::None)
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

    /// When "not found" proves an order was never accepted: its deadline, plus the
    /// grace for latency, plus what the measured clock offset leaves uncertain.
    fn not_found_after(&self, request: &OrderRequest) -> chrono::DateTime<chrono::Utc> {
        let uncertainty = self
            .inner
            .exchange
            .clock_offset()
            .map_or(chrono::Duration::zero(), |o| o.uncertainty);
        request.deadline + DEADLINE_GRACE + uncertainty
    }

    /// Whether an order proven never accepted may be sent again: only when
    /// `exchange.resend_expired` is on, the signal is still fresh, and it was never
    /// resent before (at most once per order, across restarts: `orders.resends`).
    fn may_resend(&self, record: &OrderRecord) -> bool {
        self.inner.config.resend_expired
            && record.resends == 0
            && self.now() - record.created_at < FRESH_WINDOW
    }

    /// Sends an order again with a new deadline. Safe: its deadline has passed and the
    /// exchange does not know it, so the first request can no longer be accepted.
    async fn resend(&self, request: &OrderRequest, lookup: &Lookup, elapsed: Duration) {
        let deadline = self.now() + self.inner.config.deadline();
        let cause = "not found at the exchange after its deadline: never accepted; \
                     resending with a new deadline (exchange.resend_expired)";
        let change = Change {
            deadline: Some(deadline),
            resend: true,
            ..lookup_change(cause, lookup, elapsed)
        };
        let id = request.client_order_id;
        if let Some(record) = self
            .record(id, OrderStatus::Pending, change, Effect::None)
            .await
        {
            Box::pin(self.send(record)).await;
        }
    }

    /// Settles `leftovers` (from [`Executor::leftovers`]), then allows sending. New
    /// orders may be claimed meanwhile; they wait. Bounded: once the deadline offset
    /// plus a few seconds have passed, sending opens and what is still unsettled
    /// (it stays `unknown`, counted by risk as possibly bought) goes on being looked up
    /// in the background. Returns how many leftovers there were.
    pub async fn recover(&self, leftovers: Vec<OrderRecord>) -> usize {
        let count = leftovers.len();
        if count > 0 {
            tracing::warn!(count, "settling orders left unsettled by the previous run");
        }
        let mut settling = Vec::with_capacity(count);
        for order in leftovers {
            // A previous run may have sent it: whatever becomes of this task, the
            // sweeper must only ever look it up, never send it as never attempted.
            self.inner.tracker.attempting(order.client_order_id);
            if let Some(work) = self.inner.tracker.start(order.client_order_id) {
                settling.push(self.spawn_recovery(work, order));
            }
        }
        self.inner.metrics.set_unsettled(self.in_flight());
        let bound = self.inner.config.deadline_std() + RECOVERY_EXTRA;
        let all = futures::future::join_all(settling);
        if tokio::time::timeout(bound, all).await.is_err() {
            tracing::error!(
                unsettled = self.in_flight(),
                "start-up recovery could not settle every order in time; \
                 sending new orders while lookups go on in the background"
            );
        }
        self.inner.sending_allowed.send_replace(true);
        count
    }

    /// Settles one order in a task of its own (see [`Executor::recover_one`]).
    pub(super) fn spawn_recovery(
        &self,
        work: Working,
        order: OrderRecord,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let _work = work;
            this.recover_one(order).await;
        })
    }

    /// Settles one order whose outcome this process does not know. Whether a `pending`
    /// order left before the crash cannot be known, so it is treated as `unknown`.
    async fn recover_one(&self, order: OrderRecord) {
        let id = order.client_order_id;
        let request = match self.request_for(&order).await {
            Ok(request) => request,
            Err(problem) => {
                tracing::error!(order = %id, %problem, "cannot reconcile an unsettled order");
                return;
            }
        };
        let order = if order.status == OrderStatus::Pending {
            let cause = "recovery: the order may have left before its outcome was recorded";
            match self
                .record(
                    id,
                    OrderStatus::Unknown,
                    Change::because(cause),
                    Effect::None,
                )
                .await
            {
                Some(order) => order,
                None => return,
            }
        } else {
            order
        };
        self.reconcile(&request, &order).await;
    }
}
