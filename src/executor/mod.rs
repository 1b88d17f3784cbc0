//! The executor: the life of a recorded order after intake.
//!
//! The store's writer hands it every order it commits `pending`; it sends each (one
//! task per order), classifies what the exchange said, and records the outcome with its
//! audit event through the writer. Ambiguous outcomes become `unknown` and are settled
//! by looking the order up, never by resending. At start-up [`Executor::recover`]
//! settles what a previous run left unsettled, for a bounded time, before new orders
//! are sent; what it cannot settle by then goes on being looked up in the background.
//! A sweeper picks up any unsettled order that nothing is working on.
//!
//! # Layout
//!
//! - `tracker`: which orders a task is working on, and which were attempted.
//! - `dispatch`: from the writer's hand-off (and the sweeper) to a task per order.
//! - `send`: attempts, safe retries and classification.
//! - `reconcile`: lookups, `resend_expired`, start-up recovery.

mod dispatch;
mod reconcile;
mod send;
mod tracker;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use self::tracker::Tracker;
use crate::clock::SharedClock;
use crate::config::{ExchangeConfig, Mode, RiskConfig};
use crate::exchange::{Exchange, OrderRequest};
use crate::metrics::Metrics;
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::risk::market::MarketData;
use crate::risk::resolve;
use crate::store::orders::{self, Change, ChangeError, OrderRecord};
use crate::store::transition::StatusChange;
use crate::store::Store;

/// How long a recorded signal stays fresh enough to be sent late: after waiting for
/// start-up recovery, or again (with `exchange.resend_expired`) once proven never
/// accepted. A late trade on an old signal is worse than none.
const FRESH_WINDOW: chrono::Duration = chrono::Duration::seconds(60);
/// How long after the deadline "not found" becomes conclusive (latency); the clock
/// offset to the exchange must stay within it, or nothing is sent.
const DEADLINE_GRACE: chrono::Duration = chrono::Duration::seconds(5);
/// Longest pause between two tries to record an outcome while the database fails.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);

/// Sends recorded orders and settles their outcomes.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    exchange: Arc<dyn Exchange>,
    clock: SharedClock,
    config: ExchangeConfig,
    market: Arc<MarketData>,
    risk: RiskConfig,
    metrics: Metrics,
    /// Orders being worked on, and those attempted in this process.
    tracker: Tracker,
    /// Opens once recovery has settled (or given time to) what a previous run left.
    sending_allowed: watch::Sender<bool>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Executor {
    /// The exchange it sends to (for cancels, which do not go through the executor).
    pub fn exchange(&self) -> &Arc<dyn Exchange> {
        &self.inner.exchange
    }

    /// An executor that will not send until [`Executor::recover`] has run. It takes
    /// the store's hand-off of new orders and starts its dispatcher and sweeper.
    pub fn new(
        store: Store,
        exchange: Arc<dyn Exchange>,
        clock: SharedClock,
        config: ExchangeConfig,
        risk: RiskConfig,
        market: Arc<MarketData>,
        metrics: Metrics,
    ) -> Self {
        let (sending_allowed, _) = watch::channel(false);
        let new_orders = store.take_new_orders();
        let executor = Executor {
            inner: Arc::new(Inner {
                store,
                exchange,
                clock,
                config,
                market,
                risk,
                metrics,
                tracker: Tracker::default(),
                sending_allowed,
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        };
        match new_orders {
            Some(orders) => executor.start_dispatcher(orders),
            None => tracing::error!("the store's new orders are already taken by another executor"),
        }
        executor.start_sweeper();
        executor
    }

    /// The orders an earlier run left `pending` or `unknown`. Read this before the
    /// service accepts signals, so that nothing claimed by this run is mistaken for
    /// a leftover.
    pub async fn leftovers(&self) -> Result<Vec<OrderRecord>, crate::store::StoreError> {
        orders::unsettled(self.inner.store.reader()).await
    }

    /// Whether start-up recovery has finished (or run out of its time).
    pub fn is_recovered(&self) -> bool {
        *self.inner.sending_allowed.borrow()
    }

    /// Why nothing may be sent now because of the clocks, if so: the offset to the
    /// exchange's clock (as measured, with its uncertainty) exceeds the grace that
    /// "not found after the deadline" relies on.
    pub fn clock_problem(&self) -> Option<String> {
        let offset = self.inner.exchange.clock_offset()?;
        let worst = offset.worst_case();
        (worst > DEADLINE_GRACE).then(|| {
            format!(
                "our clock differs from the exchange's by up to {} ms, more than the {} s \
                 grace that settles unknown orders: nothing is sent until the clock is fixed",
                worst.num_milliseconds(),
                DEADLINE_GRACE.num_seconds()
            )
        })
    }

    /// How many orders a task is working on right now.
    pub fn in_flight(&self) -> usize {
        self.inner.tracker.active_count()
    }

    /// Stops reconciliation loops and waits up to `grace` for in-flight sends to be
    /// recorded. What is left unsettled is settled by recovery at the next start.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.tasks.close();
        self.inner.shutdown.cancel();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over with submissions still in flight");
        }
    }

    /// Waits until start-up recovery has finished; whether there was a wait.
    async fn wait_until_sending_allowed(&self) -> bool {
        let mut allowed = self.inner.sending_allowed.subscribe();
        if *allowed.borrow_and_update() {
            return false;
        }
        // The sender lives in `self`, so `wait_for` cannot fail while we hold it.
        let _ = allowed.wait_for(|open| *open).await;
        true
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn mode(&self) -> Mode {
        self.inner.config.mode
    }

    /// Records a status change through the writer, applying `effect` to the circuit
    /// breaker in the same transaction. While the database fails it keeps trying (the
    /// outcome is worth keeping) until the service shuts down; then the order stays
    /// unsettled and recovery settles it at the next start. An illegal transition is a
    /// bug: logged, never applied.
    async fn record(
        &self,
        order: Uuid,
        to: OrderStatus,
        change: Change,
        effect: Effect,
    ) -> Option<OrderRecord> {
        let status_change = StatusChange {
            client_order_id: order,
            to,
            change,
            effect,
            breaker_limit: self.inner.risk.max_consecutive_exchange_failures,
        };
        let mut delay = Duration::from_millis(50);
        loop {
            match self.inner.store.change(status_change.clone()).await {
                Ok(record) => {
                    self.inner.metrics.status(record.status);
                    if record.status.is_final() || record.status == OrderStatus::Unknown {
                        let to_wire = self.inner.tracker.to_wire_ms(order);
                        crate::outcome_log::order_outcome(&record, to_wire);
                    }
                    if record.status.is_final() {
                        self.inner.tracker.settled(order);
                    }
                    if effect == Effect::Failure {
                        let halted = self.inner.store.halted().is_some();
                        self.inner.metrics.set_halted(halted);
                    }
                    return Some(record);
                }
                Err(ChangeError::Illegal(err)) => {
                    tracing::error!(%order, error = %err, "refused an illegal status change");
                    return None;
                }
                Err(err) => {
                    tracing::error!(%order, error = %err, "could not record an order outcome; retrying");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => {
                            tracing::error!(%order, status = %to, "shutting down before an outcome was recorded; recovery will settle it at the next start");
                            return None;
                        }
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(RECORD_RETRY_MAX);
                }
            }
        }
    }

    /// The exchange request for a recorded order, its prices rounded exactly as the
    /// risk engine approved them.
    async fn request_for(&self, order: &OrderRecord) -> Result<OrderRequest, String> {
        let pairs = self.inner.market.pairs(&*self.inner.exchange).await;
        let pair = pairs
            .get(&order.pair)
            .ok_or_else(|| format!("no metadata for pair {}", order.pair))?
            .clone();
        let volume = order
            .volume
            .ok_or_else(|| "the record has no volume".to_owned())?;
        let deadline = order
            .deadline
            .ok_or_else(|| "the record has no deadline".to_owned())?;
        let signal = &order.signal;
        let prices = resolve::round_prices(signal, &pair);
        Ok(OrderRequest {
            client_order_id: order.client_order_id,
            userref: order.userref.and_then(|u| i32::try_from(u).ok()),
            pair,
            side: signal.side,
            order_type: signal.order_type,
            volume,
            price: prices.price,
            price2: prices.price2,
            time_in_force: signal.time_in_force,
            post_only: signal.post_only,
            reduce_only: signal.reduce_only,
            leverage: signal.leverage.clone(),
            close: prices.close,
            deadline,
        })
    }
}
