//! Unit tests of [`super`].
use super::*;

fn pair() -> Counter {
    Counter::Trading("XBTUSD".into())
}

#[test]
fn documented_numbers_per_tier() {
    let s = Limits::for_tier(Tier::Starter);
    assert_eq!((s.private_max, s.private_decay_per_sec), (15.0, 0.33));
    assert_eq!((s.trading_threshold, s.trading_decay_per_sec), (60.0, 1.0));
    let i = Limits::for_tier(Tier::Intermediate);
    assert_eq!((i.private_max, i.trading_threshold), (20.0, 125.0));
    let p = Limits::for_tier(Tier::Pro);
    assert_eq!(
        (p.private_decay_per_sec, p.trading_decay_per_sec),
        (1.0, 3.75)
    );
}

#[test]
fn a_starter_key_may_burst_fifteen_private_calls_then_must_wait() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    for i in 0..15 {
        assert!(
            model.try_take(&Counter::Private, 1.0, t0).is_ok(),
            "call {i}"
        );
    }
    let wait = model.try_take(&Counter::Private, 1.0, t0).unwrap_err();
    assert!((wait.as_secs_f64() - 1.0 / 0.33).abs() < 0.01, "{wait:?}");
    assert!(model.try_take(&Counter::Private, 1.0, t0 + wait).is_ok());
}

#[test]
fn trading_counter_stays_below_the_threshold_and_decays() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    for _ in 0..59 {
        model.try_take(&pair(), 1.0, t0).unwrap();
    }
    assert!(model.try_take(&pair(), 1.0, t0).is_err());
    assert!(model
        .try_take(&pair(), 1.0, t0 + Duration::from_secs(1))
        .is_ok());
}

#[test]
fn pairs_have_separate_trading_counters_and_addorder_spares_the_rest_counter() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    for _ in 0..59 {
        model.try_take(&pair(), 1.0, t0).unwrap();
    }
    assert!(model
        .try_take(&Counter::Trading("ETHUSD".into()), 1.0, t0)
        .is_ok());
    assert_eq!(model.headroom(t0).private.level, 0.0);
}

#[test]
fn cancel_is_charged_the_maximal_penalty() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    for _ in 0..7 {
        model.try_take(&pair(), CANCEL_COST, t0).unwrap();
    }
    assert_eq!(model.headroom(t0).trading["XBTUSD"].level, 56.0);
    assert!(model.try_take(&pair(), CANCEL_COST, t0).is_err());
}

#[test]
fn saturation_after_a_refusal_forces_a_wait() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Pro));
    let t0 = Instant::now();
    model.saturate(&Counter::Private, t0);
    let wait = model.try_take(&Counter::Private, 1.0, t0).unwrap_err();
    assert_eq!(wait, Duration::from_secs(1));
}

#[test]
fn headroom_reports_levels_and_maxima() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Intermediate));
    let t0 = Instant::now();
    model.try_take(&Counter::Private, 2.0, t0).unwrap();
    model.try_take(&pair(), 1.0, t0).unwrap();
    let later = model.headroom(t0 + Duration::from_secs(2));
    assert_eq!(
        later.private,
        Level {
            level: 1.0,
            max: 20.0,
            remaining: 19.0
        }
    );
    assert!(later.trading.is_empty(), "decayed to zero: {later:?}");
    assert_eq!(model.headroom(t0).trading["XBTUSD"].max, 125.0);
}

#[test]
fn remaining_units_stop_where_kraken_would_refuse() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    assert_eq!(model.headroom(t0).private.remaining, 15.0);
    model.try_take(&pair(), 1.0, t0).unwrap();
    // Kraken refuses the trading call that reaches 60: 58 more fit after one.
    assert_eq!(
        model.headroom(t0).trading["XBTUSD"],
        Level {
            level: 1.0,
            max: 60.0,
            remaining: 58.0
        }
    );
    model.saturate(&Counter::Private, t0);
    model.saturate(&pair(), t0);
    let full = model.headroom(t0);
    assert_eq!(full.private.remaining, 0.0);
    assert_eq!(full.trading["XBTUSD"].remaining, 0.0);
}

#[tokio::test]
async fn the_limiter_gives_up_when_the_wait_would_pass_the_deadline() {
    let limiter = RateLimiter::new(Tier::Starter);
    limiter.saturate(&pair());
    let deadline = Instant::now() + Duration::from_millis(100);
    let wait = limiter.acquire(&pair(), 1.0, Some(deadline)).await;
    assert!(wait.is_err());
}

#[test]
fn a_background_call_leaves_the_reserve_to_others() {
    let mut model = RateModel::new(Limits::for_tier(Tier::Starter));
    let t0 = Instant::now();
    for i in 0..10 {
        assert!(
            model
                .try_take_leaving(&Counter::Private, 1.0, 5.0, t0)
                .is_ok(),
            "lookup {i}"
        );
    }
    let wait = model
        .try_take_leaving(&Counter::Private, 1.0, 5.0, t0)
        .unwrap_err();
    assert!((wait.as_secs_f64() - 1.0 / 0.33).abs() < 0.01, "{wait:?}");
    for i in 0..5 {
        assert!(
            model.try_take(&Counter::Private, 1.0, t0).is_ok(),
            "a new order's read {i} still fits"
        );
    }
    assert!(model.try_take(&Counter::Private, 1.0, t0).is_err());
}
