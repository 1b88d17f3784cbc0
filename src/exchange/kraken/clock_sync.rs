//! Kraken's clock against ours, from its public `Time` endpoint, at start-up and every
//! few minutes ([`ClockWatch`]); and the `AddOrder` deadline translated onto Kraken's
//! clock ([`deadline_on_kraken`]).
//!
//! `Time` answers whole seconds (`unixtime`; `rfc1123` is no finer), so one sample
//! only bounds the offset: Kraken read its clock at some instant between our sending
//! (`sent`) and our receiving (`received`), and its true time then was in
//! `[unixtime, unixtime + 1 s)`, so the offset is in
//! `(unixtime − received, unixtime + 1 s − sent)`. The midpoint of the request and the
//! response is implied, which cancels a symmetric latency. Several samples spaced by
//! a little more than a quarter of a second see Kraken's second turn over at
//! different phases, and the intersection of their intervals narrows the estimate to
//! about a round trip. Samples that do not intersect (a clock stepped meanwhile) are
//! not combined: the narrowest one is kept.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::public::KrakenPublic;
use crate::clock::SharedClock;
use crate::exchange::ClockOffset;

/// How often the offset is measured again.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);
/// How soon after a failed measurement it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// Samples per measurement, and the pause between them (not a divisor of a second,
/// so the samples fall at different phases of Kraken's second).
const SAMPLES: usize = 4;
const SAMPLE_SPACING: Duration = Duration::from_millis(260);
/// A sample whose answer takes longer than this is discarded.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);
/// Above this offset the log warns: deadlines are corrected, but the host's clock
/// (NTP) deserves a look.
pub const WARN_ABOVE: TimeDelta = TimeDelta::seconds(1);

/// One sample: the interval the offset (Kraken minus ours) lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub low: TimeDelta,
    pub high: TimeDelta,
}

impl Bounds {
    /// What one `Time` answer says, given when we sent and received it (our clock).
    pub fn from_sample(
        sent: DateTime<Utc>,
        received: DateTime<Utc>,
        kraken: DateTime<Utc>,
    ) -> Self {
        // Differences of two valid instants always fit a TimeDelta; adding the
        // second to the difference (not to `kraken`) cannot leave the date range.
        Bounds {
            low: kraken - received,
            high: (kraken - sent) + TimeDelta::seconds(1),
        }
    }

    fn width(&self) -> TimeDelta {
        self.high - self.low
    }

    /// The intersection of every sample, or the narrowest if they do not intersect.
    pub fn combine(samples: &[Bounds]) -> Option<Bounds> {
        let narrowest = samples.iter().min_by_key(|b| b.width()).copied()?;
        let low = samples.iter().map(|b| b.low).max()?;
        let high = samples.iter().map(|b| b.high).min()?;
        Some(if low <= high {
            Bounds { low, high }
        } else {
            narrowest
        })
    }

    /// The estimate: the middle of the interval, give or take half its width.
    pub fn offset(&self, measured_at: DateTime<Utc>) -> ClockOffset {
        let half = self.width() / 2;
        ClockOffset {
            offset: self.low + half,
            uncertainty: half,
            measured_at,
        }
    }
}

/// The `deadline` to send for an order due at `deadline` on our clock: the same
/// instant on Kraken's clock, so its engine refuses when we meant it to.
///
/// Kraken refuses a deadline more than 60 s ahead of its own clock as an invalid
/// argument; near that limit the translated deadline is pulled in (to 60 s less the
/// measurement's uncertainty and a second of latency), which only makes the engine
/// refuse a little earlier than asked: the safe direction for "not found after the
/// deadline means never accepted". Without a measurement the deadline goes as is.
pub fn deadline_on_kraken(
    deadline: DateTime<Utc>,
    offset: Option<ClockOffset>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some(offset) = offset else {
        return deadline;
    };
    let limit = TimeDelta::seconds(59) - offset.uncertainty;
    let on_kraken = offset.to_exchange(deadline);
    match offset.to_exchange(now).checked_add_signed(limit) {
        Some(latest) => on_kraken.min(latest),
        None => on_kraken,
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Latest {
    offset: Option<ClockOffset>,
    /// Whether the first sample has been taken (with or without a result).
    attempted: bool,
}

/// The latest measured offset, kept fresh by a background task that ends when every
/// clone of the watch is dropped.
#[derive(Debug, Clone)]
pub struct ClockWatch {
    latest: watch::Receiver<Latest>,
}

impl ClockWatch {
    /// Starts measuring at once and every [`CHECK_EVERY`]. Outside a Tokio runtime
    /// nothing can be measured, and the watch never has an offset.
    pub fn start(public: KrakenPublic, clock: SharedClock) -> Self {
        let (tx, latest) = watch::channel(Latest::default());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(run(public, clock, tx));
            }
            Err(_) => {
                tracing::warn!("no async runtime: Kraken's clock offset is not measured");
                tx.send_modify(|l| l.attempted = true);
            }
        }
        ClockWatch { latest }
    }

    /// The latest offset, if any was measured.
    pub fn latest(&self) -> Option<ClockOffset> {
        self.latest.borrow().offset
    }

    /// The latest offset, first waiting (at most `max_wait`) for the start-up
    /// measurement to yield its first sample, so the first orders after start-up are
    /// not sent with an uncorrected deadline for want of a round trip.
    pub async fn first(&self, max_wait: Duration) -> Option<ClockOffset> {
        let mut latest = self.latest.clone();
        let ready = latest.wait_for(|l| l.attempted || l.offset.is_some());
        // Timing out or the task having ended both leave the latest value to read.
        let _ = tokio::time::timeout(max_wait, ready).await;
        self.latest()
    }
}

/// Measures until every receiver is gone.
async fn run(public: KrakenPublic, clock: SharedClock, tx: watch::Sender<Latest>) {
    loop {
        let pause = match measure(&public, &clock, &tx).await {
            Some(offset) => {
                log(&offset);
                CHECK_EVERY
            }
            None => RETRY_AFTER_FAILURE,
        };
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Takes [`SAMPLES`] samples and publishes their combined estimate; `None` if every
/// sample failed (the previous estimate, if any, then stays, with its age).
///
/// While there is no estimate at all (start-up), each sample is published as it
/// comes and the first one ends the start-up wait, so the first orders wait for
/// one round trip, not for the whole measurement.
async fn measure(
    public: &KrakenPublic,
    clock: &SharedClock,
    tx: &watch::Sender<Latest>,
) -> Option<ClockOffset> {
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut estimate = None;
    for n in 0..SAMPLES {
        if n > 0 {
            tokio::time::sleep(SAMPLE_SPACING).await;
        }
        let sent = clock.now();
        match public.server_time_within(SAMPLE_TIMEOUT).await {
            Ok(kraken) => samples.push(Bounds::from_sample(sent, clock.now(), kraken)),
            Err(err) => tracing::debug!(%err, "Kraken Time sample failed"),
        }
        estimate = Bounds::combine(&samples).map(|b| b.offset(clock.now()));
        tx.send_modify(|latest| {
            if latest.offset.is_none() {
                latest.offset = estimate;
            }
            latest.attempted = true;
        });
    }
    match estimate {
        Some(offset) => tx.send_modify(|latest| latest.offset = Some(offset)),
        None => tracing::warn!("could not read Kraken's clock (public Time); offset unknown"),
    }
    estimate
}

fn log(offset: &ClockOffset) {
    let offset_ms = offset.offset.num_milliseconds();
    let uncertainty_ms = offset.uncertainty.num_milliseconds();
    if offset.offset.abs() > WARN_ABOVE {
        tracing::warn!(
            offset_ms,
            uncertainty_ms,
            "our clock differs from Kraken's by more than 1 s: deadlines are \
             translated, but check the host's time synchronisation"
        );
    } else {
        tracing::debug!(offset_ms, uncertainty_ms, "clock offset to Kraken measured");
    }
}

#[cfg(test)]
#[path = "clock_sync_tests.rs"]
mod tests;
