//! Order lookups on one bounded schedule, so that reconciling many `unknown` orders
//! never starves the calls a new order needs.
//!
//! Every [`LookupBatcher::find`] joins a queue. One worker serves the queue in
//! *rounds*: each round reads `OpenOrders` once (unfiltered) and, for the orders not
//! settled by it, one `ClosedOrders` scan of the orders opened since the oldest of
//! them could have been ([`super::round`]); every queued order is then recognised
//! locally, exactly as a filtered lookup would (by `cl_ord_id`, or `userref` and the
//! other fields; see [`super::lookup`]). So ten orders unknown at once cost about two
//! calls, not twenty, and a lookup's answer is always read after it was asked for
//! (requests arriving during a round wait for the next), which keeps "not visible
//! yet" meaning what it meant for a single lookup.
//!
//! Rounds start at most every [`MIN_ROUND_INTERVAL`], and each call of a round first
//! takes its unit from the private rate counter *leaving [`LOOKUP_RESERVE`] units
//! free*: new orders' own reads (the `Balance` of the risk check) always find room,
//! and lookups slow down to the counter's decay rate instead of saturating it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use super::calls::OrderFilter;
use super::clock_sync::ClockWatch;
use super::lookup;
use super::private::KrakenPrivate;
use super::rate_limit::Counter;
use super::round;
use crate::exchange::{Lookup, LookupOutcome, OrderRequest};

/// Shortest time between the starts of two rounds.
pub const MIN_ROUND_INTERVAL: Duration = Duration::from_secs(1);
/// Units of the private counter lookups never take: kept for new orders' calls. At
/// the Starter tier (15 units, decaying 1 per 3 s) lookups burst to 10 units and
/// then run at the decay rate, while five reads for new signals stay available.
pub const LOOKUP_RESERVE: f64 = 5.0;
/// Timeout of each lookup call: queries are not worth holding a connection for long.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one `find` waits for a round to answer it.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(60);

/// One queued lookup.
pub(super) struct Pending {
    pub order: OrderRequest,
    pub filter: OrderFilter,
    reply: oneshot::Sender<Lookup>,
}

impl Pending {
    /// Answers the caller (who may have given up; then nobody is listening).
    pub fn answer(self, lookup: Lookup) {
        let _ = self.reply.send(lookup);
    }
}

/// A failed lookup with what was asked.
pub(super) fn failed(request: Value, reason: String) -> Lookup {
    Lookup {
        request,
        response: None,
        outcome: LookupOutcome::Failed { reason },
    }
}

/// The queue of lookups of one key, and its worker.
pub struct LookupBatcher {
    private: Arc<KrakenPrivate>,
    kraken_clock: ClockWatch,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl std::fmt::Debug for LookupBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupBatcher").finish_non_exhaustive()
    }
}

impl LookupBatcher {
    /// A queue for `private`'s key; its worker starts with the first lookup and
    /// stops once the batcher is dropped.
    pub fn new(private: Arc<KrakenPrivate>, kraken_clock: ClockWatch) -> Self {
        LookupBatcher {
            private,
            kraken_clock,
            queue: OnceLock::new(),
        }
    }

    /// Looks `order` up in the next round; see the module doc.
    pub async fn find(&self, order: &OrderRequest) -> Lookup {
        let filter = match lookup::filter_for(order) {
            Ok(filter) => filter,
            Err(reason) => return failed(json!({}), reason),
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            order: order.clone(),
            filter,
            reply,
        };
        let queue = self.queue.get_or_init(|| self.start_worker());
        if queue.send(pending).is_err() {
            return failed(json!({}), "the lookup worker has stopped".into());
        }
        match tokio::time::timeout(FIND_TIMEOUT, answer).await {
            Ok(Ok(lookup)) => lookup,
            Ok(Err(_)) => failed(json!({}), "the lookup worker dropped the lookup".into()),
            Err(_) => failed(
                json!({}),
                format!(
                    "no lookup round within {} s (Kraken's call counter is busy)",
                    FIND_TIMEOUT.as_secs()
                ),
            ),
        }
    }

    /// Called from `find`, so inside the runtime.
    fn start_worker(&self) -> mpsc::UnboundedSender<Pending> {
        let (queue, requests) = mpsc::unbounded_channel();
        let worker = Worker {
            private: self.private.clone(),
            kraken_clock: self.kraken_clock.clone(),
        };
        tokio::spawn(worker.run(requests));
        queue
    }
}

struct Worker {
    private: Arc<KrakenPrivate>,
    kraken_clock: ClockWatch,
}

impl Worker {
    async fn run(self, mut requests: mpsc::UnboundedReceiver<Pending>) {
        let mut waiting: Vec<Pending> = Vec::new();
        let mut next_round = Instant::now();
        loop {
            if waiting.is_empty() {
                match requests.recv().await {
                    Some(pending) => waiting.push(pending),
                    None => return,
                }
            }
            sleep_until(next_round).await;
            // Lookups are background work: wait (unbounded) for room that leaves the
            // reserve to new orders. This unit pays for the round's `OpenOrders`.
            let _ = self
                .private
                .limiter()
                .acquire_leaving(&Counter::Private, 1.0, LOOKUP_RESERVE, None)
                .await;
            next_round = Instant::now() + MIN_ROUND_INTERVAL;
            // Everything queued until now is served by this round's reads.
            while let Ok(pending) = requests.try_recv() {
                waiting.push(pending);
            }
            waiting.retain(|pending| !pending.reply.is_closed());
            if waiting.is_empty() {
                continue;
            }
            let offset = self
                .kraken_clock
                .latest()
                .map_or(chrono::TimeDelta::zero(), |o| o.offset);
            round::serve(&self.private, offset, std::mem::take(&mut waiting)).await;
        }
    }
}
