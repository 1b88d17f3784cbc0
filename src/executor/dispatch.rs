//! From a committed order to the task that sends it: the writer's hand-off, and the
//! sweeper that picks up any unsettled order nothing is working on.
//!
//! Dispatch never depends on the request that brought the signal in: the writer hands
//! every order it commits `pending` to [`Executor::start_dispatcher`]'s loop, so a
//! client that disconnects after the commit cannot strand its order.

use std::time::Duration;

use tokio::sync::mpsc;

use super::tracker::Working;
use super::Executor;
use crate::order::OrderStatus;
use crate::store::orders::{self, OrderRecord};

/// How often the sweeper looks for unsettled orders nothing is working on.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Orders younger than this are left to the normal hand-off.
const SWEEP_AGE: chrono::Duration = chrono::Duration::seconds(5);

impl Executor {
    /// Sends every order the writer hands over, each in its own task.
    pub(super) fn start_dispatcher(&self, mut orders: mpsc::UnboundedReceiver<OrderRecord>) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let order = tokio::select! {
                    _ = this.inner.shutdown.cancelled() => return,
                    order = orders.recv() => order,
                };
                let Some(order) = order else { return };
                if let Some(work) = this.inner.tracker.start(order.client_order_id) {
                    this.spawn_send(work, order);
                }
            }
        });
    }

    /// Sends `order` in a task of its own; one claimed while start-up recovery runs
    /// waits for it to finish first, then gets a new deadline.
    fn spawn_send(&self, work: Working, order: OrderRecord) {
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let _work = work;
            let order = if this.wait_until_sending_allowed().await {
                match this.renew_after_wait(order).await {
                    Some(order) => order,
                    None => return,
                }
            } else {
                order
            };
            this.send(order).await;
        });
    }

    /// Every [`SWEEP_EVERY`], once recovery is done, takes up unsettled orders that no
    /// task is working on.
    pub(super) fn start_sweeper(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = this.inner.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(SWEEP_EVERY) => {}
                }
                if this.is_recovered() {
                    this.sweep().await;
                }
                this.inner.metrics.set_unsettled(this.in_flight());
            }
        });
    }

    /// One sweep. An order is taken only after its status was read again under the
    /// tracker's hold, so one that settled meanwhile is left alone.
    pub(super) async fn sweep(&self) {
        let before = self.now() - SWEEP_AGE;
        let stale = match orders::unsettled_before(self.inner.store.reader(), before).await {
            Ok(stale) => stale,
            Err(err) => {
                tracing::warn!(error = %err, "the sweeper cannot read unsettled orders");
                return;
            }
        };
        for candidate in stale {
            let id = candidate.client_order_id;
            let Some(work) = self.inner.tracker.start(id) else {
                continue;
            };
            let order = match orders::get(self.inner.store.reader(), id).await {
                Ok(Some(order)) if !order.status.is_final() => order,
                _ => continue,
            };
            tracing::warn!(order = %id, status = %order.status, "taking up an order nothing was working on");
            let attempted = self.inner.tracker.was_attempted(id);
            if order.status == OrderStatus::Pending && !attempted {
                // Never attempted in this process, and not a leftover of an earlier
                // run (recovery holds those): it never left. Send it.
                self.spawn_stranded(work, order);
            } else {
                self.spawn_recovery(work, order);
            }
        }
    }

    /// Sends a stranded order that provably never left, with a new deadline while fresh.
    fn spawn_stranded(&self, work: Working, order: OrderRecord) {
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let _work = work;
            if let Some(order) = this.renew_after_wait(order).await {
                this.send(order).await;
            }
        });
    }
}
