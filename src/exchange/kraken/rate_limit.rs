//! A client-side model of Kraken's rate-limit counters, so we wait before Kraken
//! would refuse (Kraken docs: "Spot REST Rate Limits" and "Spot Trading Limits").
//!
//! - The REST call counter, per API key: most private calls +1, ledger and trade
//!   history +2; `AddOrder`/`CancelOrder` are not counted here. Maximum 15/20/20 and
//!   decay 0.33/0.5/1 per second for Starter/Intermediate/Pro.
//! - The trading counter, per pair: `AddOrder` +1; `CancelOrder` adds up to +8 for an
//!   order younger than 5 s, which we always assume (we do not track order ages).
//!   Threshold 60/125/180 and decay 1/2.34/3.75 per second. Kraken refuses when the
//!   threshold is *reached*, so the model stays one below it.
//!
//! Decay is modelled as continuous; Kraken applies it "every couple of seconds", so
//! the model can run slightly ahead of Kraken. When Kraken still says "rate limit
//! exceeded", [`RateLimiter::saturate`] fills the model's counter to resynchronise.
//! Counter levels are not money, so `f64` is fine here.
//!
//! [`RateModel`] is pure (time is passed in) and unit-tested without sleeping;
//! [`RateLimiter`] wraps it with a mutex and `tokio::time::sleep`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Tier;

/// Cost of `CancelOrder` on the trading counter: the largest of Kraken's penalties.
pub const CANCEL_COST: f64 = 8.0;

/// Which of Kraken's counters a call charges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Counter {
    /// The REST call counter of the API key.
    Private,
    /// The matching engine's counter for one pair (by altname).
    Trading(String),
}

/// Maxima and decay rates of one account tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub private_max: f64,
    pub private_decay_per_sec: f64,
    pub trading_threshold: f64,
    pub trading_decay_per_sec: f64,
}

impl Limits {
    /// Kraken's documented numbers for `tier`.
    pub fn for_tier(tier: Tier) -> Self {
        let (private_max, private_decay_per_sec, trading_threshold, trading_decay_per_sec) =
            match tier {
                Tier::Starter => (15.0, 0.33, 60.0, 1.0),
                Tier::Intermediate => (20.0, 0.5, 125.0, 2.34),
                Tier::Pro => (20.0, 1.0, 180.0, 3.75),
            };
        Limits {
            private_max,
            private_decay_per_sec,
            trading_threshold,
            trading_decay_per_sec,
        }
    }

    /// Kraken's maximum (REST counter) or refusal threshold (trading counter).
    fn kraken_max(&self, counter: &Counter) -> f64 {
        match counter {
            Counter::Private => self.private_max,
            Counter::Trading(_) => self.trading_threshold,
        }
    }

    /// The highest level the model lets a counter reach, and its decay per second.
    fn ceiling_and_decay(&self, counter: &Counter) -> (f64, f64) {
        match counter {
            Counter::Private => (self.private_max, self.private_decay_per_sec),
            Counter::Trading(_) => (self.trading_threshold - 1.0, self.trading_decay_per_sec),
        }
    }
}

/// One counter's level for metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Current modelled value.
    pub level: f64,
    /// Kraken's maximum (REST) or threshold (trading).
    pub max: f64,
    /// Units Kraken would still accept now: up to the maximum (REST) or to one below
    /// the threshold (trading, refused once reached), less the level; never negative.
    pub remaining: f64,
}

/// Every counter's level, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Headroom {
    pub private: Level,
    /// Pairs with a non-zero trading counter, by altname.
    pub trading: BTreeMap<String, Level>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn level_at(&self, now: Instant, decay: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.level - elapsed * decay).max(0.0)
    }
}

/// The counters, advanced by explicit instants.
#[derive(Debug, Clone)]
pub struct RateModel {
    limits: Limits,
    buckets: HashMap<Counter, Bucket>,
}

impl RateModel {
    /// Empty counters.
    pub fn new(limits: Limits) -> Self {
        RateModel {
            limits,
            buckets: HashMap::new(),
        }
    }

    fn level(&self, counter: &Counter, now: Instant) -> f64 {
        let (_, decay) = self.limits.ceiling_and_decay(counter);
        self.buckets
            .get(counter)
            .map_or(0.0, |b| b.level_at(now, decay))
    }

    /// Charges `cost` if that keeps the counter under Kraken's limit; otherwise
    /// returns how long to wait before it would.
    pub fn try_take(&mut self, counter: &Counter, cost: f64, now: Instant) -> Result<(), Duration> {
        self.try_take_leaving(counter, cost, 0.0, now)
    }

    /// As [`RateModel::try_take`], but only if `reserve` units stay free afterwards:
    /// background calls (order lookups) leave that much for calls a new order needs.
    pub fn try_take_leaving(
        &mut self,
        counter: &Counter,
        cost: f64,
        reserve: f64,
        now: Instant,
    ) -> Result<(), Duration> {
        let (ceiling, decay) = self.limits.ceiling_and_decay(counter);
        let ceiling = ceiling - reserve;
        let level = self.level(counter, now);
        if level + cost <= ceiling {
            self.buckets.insert(
                counter.clone(),
                Bucket {
                    level: level + cost,
                    at: now,
                },
            );
            return Ok(());
        }
        // Rounded up to the millisecond, so that after the wait the call fits.
        let excess = level + cost - ceiling;
        Err(Duration::from_millis(
            (excess / decay * 1000.0).ceil() as u64
        ))
    }

    /// Assumes the counter is full: Kraken just said so.
    pub fn saturate(&mut self, counter: &Counter, now: Instant) {
        let (ceiling, _) = self.limits.ceiling_and_decay(counter);
        self.buckets.insert(
            counter.clone(),
            Bucket {
                level: ceiling,
                at: now,
            },
        );
    }

    /// One counter's level, maximum and remaining units.
    fn report(&self, counter: &Counter, now: Instant) -> Level {
        let level = self.level(counter, now);
        let (ceiling, _) = self.limits.ceiling_and_decay(counter);
        Level {
            level,
            max: self.limits.kraken_max(counter),
            remaining: (ceiling - level).max(0.0),
        }
    }

    /// Current levels and maxima.
    pub fn headroom(&self, now: Instant) -> Headroom {
        let trading = self
            .buckets
            .keys()
            .filter_map(|c| match c {
                Counter::Trading(pair) => Some((pair.clone(), self.report(c, now))),
                Counter::Private => None,
            })
            .filter(|(_, report)| report.level > 0.0)
            .collect();
        Headroom {
            private: self.report(&Counter::Private, now),
            trading,
        }
    }

    /// Forgets counters that have decayed to zero, so the map stays small.
    fn prune(&mut self, now: Instant) {
        let limits = self.limits;
        self.buckets.retain(|counter, bucket| {
            let (_, decay) = limits.ceiling_and_decay(counter);
            bucket.level_at(now, decay) > 0.0
        });
    }
}

/// The shared, async face of [`RateModel`].
#[derive(Debug)]
pub struct RateLimiter {
    model: Mutex<RateModel>,
}

impl RateLimiter {
    /// Counters for an account of `tier`.
    pub fn new(tier: Tier) -> Self {
        RateLimiter {
            model: Mutex::new(RateModel::new(Limits::for_tier(tier))),
        }
    }

    fn model(&self) -> std::sync::MutexGuard<'_, RateModel> {
        // The model is plain numbers, consistent even if a holder panicked.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `cost` fits under the counter's limit, then charges it.
    ///
    /// Gives up without charging, returning the wait it would have needed, if that
    /// wait would end after `give_up_at` (e.g. the order's deadline).
    pub async fn acquire(
        &self,
        counter: &Counter,
        cost: f64,
        give_up_at: Option<Instant>,
    ) -> Result<(), Duration> {
        self.acquire_leaving(counter, cost, 0.0, give_up_at).await
    }

    /// As [`RateLimiter::acquire`], keeping `reserve` units free (see
    /// [`RateModel::try_take_leaving`]).
    pub async fn acquire_leaving(
        &self,
        counter: &Counter,
        cost: f64,
        reserve: f64,
        give_up_at: Option<Instant>,
    ) -> Result<(), Duration> {
        loop {
            let now = Instant::now();
            let wait = {
                let mut model = self.model();
                model.prune(now);
                match model.try_take_leaving(counter, cost, reserve, now) {
                    Ok(()) => return Ok(()),
                    Err(wait) => wait,
                }
            };
            if give_up_at.is_some_and(|limit| now + wait >= limit) {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Marks the counter as full after Kraken refused for rate limits.
    pub fn saturate(&self, counter: &Counter) {
        self.model().saturate(counter, Instant::now());
    }

    /// Current levels and maxima of every counter.
    pub fn headroom(&self) -> Headroom {
        self.model().headroom(Instant::now())
    }
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
