//! Kraken's clock against ours (issue 14, item 12): the offset is measured from the
//! public `Time` endpoint, and the `AddOrder` deadline is sent on Kraken's clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::support::fake_kraken::FakeKraken;
use super::{client, order};
use tradehook::clock::{ManualClock, SharedClock};
use tradehook::config::Mode;
use tradehook::exchange::kraken::{KrakenExchange, MemoryNonceStore, NonceStore};
use tradehook::exchange::{AttemptOutcome, ClockOffset, Exchange};

/// The offset once the start-up measurement has narrowed it below half a second.
async fn settled_offset(exchange: &KrakenExchange) -> ClockOffset {
    let started = Instant::now();
    loop {
        if let Some(offset) = exchange.clock_offset() {
            if offset.uncertainty < TimeDelta::milliseconds(500) {
                return offset;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            exchange.clock_offset()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_offset_to_krakens_clock_is_measured_within_its_uncertainty() {
    for skew_ms in [2_500, -7_300, 0] {
        let kraken = FakeKraken::start().await;
        let skew = TimeDelta::milliseconds(skew_ms);
        kraken.set_clock_skew(skew);
        let exchange = client(&kraken);
        let offset = settled_offset(&exchange).await;
        // The true offset lies in the interval; a little slack for the fake's own
        // answer time, which the interval already includes but rounding may not.
        let error = (offset.offset - skew).abs();
        assert!(
            error <= offset.uncertainty + TimeDelta::milliseconds(50),
            "skew {skew_ms} ms: {offset:?}"
        );
        assert!((Utc::now() - offset.measured_at).num_seconds().abs() < 5);
        assert!(kraken.calls("Time") >= 2, "several samples");
    }
}

/// The `deadline` field of an attempt's request.
fn sent_deadline(request: &serde_json::Value) -> DateTime<Utc> {
    let text = request["deadline"].as_str().unwrap();
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn the_deadline_is_sent_on_krakens_clock() {
    let kraken = FakeKraken::start().await;
    let skew = TimeDelta::seconds(30);
    kraken.set_clock_skew(skew);
    let exchange = client(&kraken);
    let order = order();
    // Uncorrected, this deadline would be 20 s in Kraken's past: refused.
    let attempt = exchange.add_order(&order).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::Placed { .. }),
        "{attempt:?}"
    );
    let shift = sent_deadline(&attempt.request) - order.deadline;
    assert!(
        (shift - skew).abs() < TimeDelta::milliseconds(1_100),
        "shifted by {shift}"
    );
}

#[tokio::test]
async fn without_a_clock_measurement_the_deadline_goes_uncorrected() {
    // Kraken's Time fails and our clock runs a minute behind: the client believes
    // there is time, and the matching engine (the fake, on real time) refuses the
    // late order as Kraken would: deadline elapsed.
    let kraken = FakeKraken::start().await;
    kraken.fail_time(true);
    let behind: SharedClock = Arc::new(ManualClock::new(Utc::now() - TimeDelta::minutes(1)));
    let store: Arc<dyn NonceStore> = Arc::new(MemoryNonceStore::new());
    let exchange =
        KrakenExchange::with_clock(&kraken.exchange_config(Mode::Live), store, behind).unwrap();
    let mut order = order();
    order.deadline = Utc::now() - TimeDelta::seconds(1);
    let attempt = exchange.add_order(&order).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::DeadlineElapsed { .. }),
        "{attempt:?}"
    );
    assert_eq!(
        sent_deadline(&attempt.request).timestamp_millis(),
        order.deadline.timestamp_millis()
    );
    assert_eq!(exchange.clock_offset(), None);
    assert_eq!(kraken.order_count(), 0);
}
