//! The executor: the life of a recorded order after intake.
//!
//! It sends each `pending` order (one task per order), classifies what the exchange
//! said, and records the outcome with its audit event. Ambiguous outcomes become
//! `unknown` and are settled by looking the order up, never by resending. At start-up
//! [`Executor::recover`] settles every order a previous run left unsettled before any
//! new order may be sent.

mod reconcile;
mod send;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::config::{ExchangeConfig, Mode, RiskConfig};
use crate::exchange::{Exchange, OrderRequest};
use crate::metrics::Metrics;
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::risk::market::MarketData;
use crate::risk::{control, resolve, should_trip};
use crate::store::events::{self, NewEvent};
use crate::store::orders::{self, Change, ChangeError, OrderRecord};
use crate::store::Store;

/// How long a recorded signal stays fresh enough to be sent late: after waiting for
/// start-up recovery, or again (with `exchange.resend_expired`) once proven never
/// accepted. A late trade on an old signal is worse than none.
const FRESH_WINDOW: chrono::Duration = chrono::Duration::seconds(60);

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
    /// Announces every recorded status change, by client order ID.
    updates: broadcast::Sender<(Uuid, OrderStatus)>,
    /// Opens once recovery has settled what a previous run left behind.
    sending_allowed: watch::Sender<bool>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Executor {
    /// An executor that will not send until [`Executor::recover`] has run.
    pub fn new(
        store: Store,
        exchange: Arc<dyn Exchange>,
        clock: SharedClock,
        config: ExchangeConfig,
        risk: RiskConfig,
        market: Arc<MarketData>,
        metrics: Metrics,
    ) -> Self {
        let (updates, _) = broadcast::channel(1024);
        let (sending_allowed, _) = watch::channel(false);
        Executor {
            inner: Arc::new(Inner {
                store,
                exchange,
                clock,
                config,
                market,
                risk,
                metrics,
                updates,
                sending_allowed,
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Starts sending a freshly claimed `pending` order in the background. One
    /// claimed while start-up recovery runs waits for it to finish first.
    pub fn dispatch(&self, order: OrderRecord) {
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let order = if this.wait_until_sending_allowed().await {
                match this.renew_after_recovery(order).await {
                    Some(order) => order,
                    None => return,
                }
            } else {
                order
            };
            this.send(order).await;
        });
    }

    /// The orders an earlier run left `pending` or `unknown`. Read this before the
    /// service accepts signals, so that nothing claimed by this run is mistaken for
    /// a leftover.
    pub async fn leftovers(&self) -> Result<Vec<OrderRecord>, crate::store::StoreError> {
        orders::unsettled(self.inner.store.reader()).await
    }

    /// Settles `leftovers` (from [`Executor::leftovers`]), then allows sending. New
    /// orders may be claimed meanwhile; they wait.
    pub async fn recover(&self, leftovers: Vec<OrderRecord>) -> usize {
        let count = leftovers.len();
        if count > 0 {
            tracing::warn!(count, "settling orders left unsettled by the previous run");
        }
        let settling = leftovers.into_iter().map(|order| {
            let this = self.clone();
            async move { this.recover_one(order).await }
        });
        futures::future::join_all(settling).await;
        self.inner.sending_allowed.send_replace(true);
        count
    }

    /// Status changes as they are recorded.
    pub fn subscribe(&self) -> broadcast::Receiver<(Uuid, OrderStatus)> {
        self.inner.updates.subscribe()
    }

    /// Whether start-up recovery has finished.
    pub fn is_recovered(&self) -> bool {
        *self.inner.sending_allowed.borrow()
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

    /// Records a status change in its own transaction and announces it, applying
    /// `effect` to the circuit breaker in the same transaction. Retries a failing
    /// database a few times: the outcome is worth keeping. An illegal transition is a
    /// bug: logged, never applied.
    async fn record(
        &self,
        order: Uuid,
        to: OrderStatus,
        change: &Change<'_>,
        effect: Effect,
    ) -> Option<OrderRecord> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..5 {
            match self.try_record(order, to, change, effect).await {
                Ok(record) => {
                    self.inner.metrics.status(record.status);
                    let _ = self.inner.updates.send((order, record.status));
                    return Some(record);
                }
                Err(ChangeError::Illegal(err)) => {
                    tracing::error!(%order, error = %err, "refused an illegal status change");
                    return None;
                }
                Err(err) => {
                    tracing::error!(%order, error = %err, "could not record an order outcome; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        tracing::error!(%order, status = %to, "gave up recording an outcome; recovery will settle it at the next start");
        None
    }

    async fn try_record(
        &self,
        order: Uuid,
        to: OrderStatus,
        change: &Change<'_>,
        effect: Effect,
    ) -> Result<OrderRecord, ChangeError> {
        let now = self.now();
        let mut tx = self.inner.store.begin_write().await?;
        let record = orders::change_status(&mut tx, order, to, change, now).await?;
        match effect {
            Effect::None => {}
            Effect::Reset => control::reset_failures(&mut tx, now).await?,
            Effect::Failure => {
                let failures = control::record_failure(&mut tx, now).await?;
                if should_trip(failures, &self.inner.risk) {
                    let reason = format!(
                        "circuit breaker: {failures} consecutive exchange failures; last: {}",
                        change.event.cause
                    );
                    if control::halt(&mut tx, &reason, now).await? {
                        tracing::error!(%reason, "trading halted");
                        let event = NewEvent {
                            cause: &reason,
                            ..NewEvent::default()
                        };
                        events::append(&mut tx, record.id, record.status, &event, now).await?;
                        self.inner.metrics.set_halted(true);
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(record)
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
