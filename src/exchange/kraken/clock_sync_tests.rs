//! Unit tests of [`super`]: offset intervals, their combination, deadline translation.
use super::*;
use chrono::TimeZone;

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + ms).unwrap()
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

#[test]
fn one_sample_bounds_the_offset_by_the_round_trip_and_a_whole_second() {
    // Sent at .100, answered at .300, Kraken said second 0 (it read its clock some
    // time in [0, 1 s)): the offset is in (0 − 0.3, 1 − 0.1) s.
    let bounds = Bounds::from_sample(at_ms(100), at_ms(300), at_ms(0));
    assert_eq!(
        bounds,
        Bounds {
            low: ms(-300),
            high: ms(900)
        }
    );
    let offset = bounds.offset(at_ms(300));
    assert_eq!((offset.offset, offset.uncertainty), (ms(300), ms(600)));
}

#[test]
fn samples_at_different_phases_narrow_the_estimate() {
    // Kraken runs 2.4 s ahead; each answer takes 20 ms; samples 260 ms apart.
    let skew: i64 = 2_400;
    let samples: Vec<Bounds> = (0..4)
        .map(|n| {
            let sent = n * 260;
            let kraken_ms = sent + 10 + skew;
            let kraken_second = kraken_ms.div_euclid(1000) * 1000;
            Bounds::from_sample(at_ms(sent), at_ms(sent + 20), at_ms(kraken_second))
        })
        .collect();
    let combined = Bounds::combine(&samples).unwrap();
    let offset = combined.offset(at_ms(800));
    assert!(offset.uncertainty < ms(300), "{offset:?}");
    assert!(
        (offset.offset - ms(skew)).abs() <= offset.uncertainty,
        "{offset:?}"
    );
    assert!(combined.low <= ms(skew) && ms(skew) <= combined.high);
}

#[test]
fn samples_that_contradict_each_other_fall_back_to_the_narrowest() {
    let wide = Bounds {
        low: ms(0),
        high: ms(1_000),
    };
    let narrow = Bounds {
        low: ms(5_000),
        high: ms(5_200),
    };
    assert_eq!(Bounds::combine(&[wide, narrow]), Some(narrow));
    assert_eq!(Bounds::combine(&[]), None);
}

#[test]
fn the_deadline_is_sent_on_krakens_clock() {
    let now = at_ms(0);
    let deadline = now + TimeDelta::seconds(10);
    let ahead = ClockOffset {
        offset: TimeDelta::seconds(30),
        uncertainty: ms(200),
        measured_at: now,
    };
    assert_eq!(
        deadline_on_kraken(deadline, Some(ahead), now),
        deadline + TimeDelta::seconds(30)
    );
    let behind = ClockOffset {
        offset: TimeDelta::seconds(-30),
        ..ahead
    };
    assert_eq!(
        deadline_on_kraken(deadline, Some(behind), now),
        deadline - TimeDelta::seconds(30)
    );
    assert_eq!(deadline_on_kraken(deadline, None, now), deadline);
}

#[test]
fn a_deadline_near_krakens_limit_is_pulled_in_never_pushed_out() {
    let now = at_ms(0);
    let offset = ClockOffset {
        offset: TimeDelta::seconds(5),
        uncertainty: ms(400),
        measured_at: now,
    };
    let sent = deadline_on_kraken(now + TimeDelta::seconds(60), Some(offset), now);
    let kraken_now = now + TimeDelta::seconds(5);
    assert!(sent <= kraken_now + TimeDelta::seconds(59), "{sent}");
    assert!(sent < offset.to_exchange(now + TimeDelta::seconds(60)));
}

#[test]
fn worst_case_adds_the_uncertainty_to_the_size_of_the_offset() {
    let offset = ClockOffset {
        offset: TimeDelta::seconds(-3),
        uncertainty: ms(500),
        measured_at: at_ms(0),
    };
    assert_eq!(offset.worst_case(), ms(3_500));
}
