//! Unit tests of [`super`].
use super::*;
use crate::clock::ManualClock;
use chrono::{Duration, TimeZone, Utc};

fn setup() -> (Arc<MemoryNonceStore>, ManualClock) {
    let clock = ManualClock::new(Utc.timestamp_millis_opt(1_700_000_000_000).unwrap());
    (Arc::new(MemoryNonceStore::new()), clock)
}

#[tokio::test]
async fn nonces_follow_the_clock_in_milliseconds() {
    let (store, clock) = setup();
    let seq = NonceSequence::new("k", store, Arc::new(clock.clone()));
    assert_eq!(seq.lock().await.next().await.unwrap(), 1_700_000_000_000);
    clock.advance(Duration::milliseconds(5));
    assert_eq!(seq.lock().await.next().await.unwrap(), 1_700_000_000_005);
}

#[tokio::test]
async fn nonces_increase_within_one_millisecond_and_after_a_backward_step() {
    let (store, clock) = setup();
    let seq = NonceSequence::new("k", store, Arc::new(clock.clone()));
    let a = seq.lock().await.next().await.unwrap();
    let b = seq.lock().await.next().await.unwrap();
    clock.advance(Duration::hours(-1));
    let c = seq.lock().await.next().await.unwrap();
    assert!(a < b && b < c, "{a} {b} {c}");
}

#[tokio::test]
async fn a_restart_continues_above_everything_issued_before() {
    let (store, clock) = setup();
    let first = NonceSequence::new("k", store.clone(), Arc::new(clock.clone()));
    let mut last = 0;
    for _ in 0..100 {
        last = first.lock().await.next().await.unwrap();
    }
    drop(first);
    clock.advance(Duration::hours(-2));
    let second = NonceSequence::new("k", store, Arc::new(clock));
    assert!(second.lock().await.next().await.unwrap() > last);
}

#[tokio::test]
async fn the_store_is_written_once_per_reservation_not_per_nonce() {
    let (store, clock) = setup();
    let seq = NonceSequence::new("k", store.clone(), Arc::new(clock.clone()));
    let n = seq.lock().await.next().await.unwrap();
    assert_eq!(store.load("k").await.unwrap(), Some(n + RESERVATION));
    clock.advance(Duration::milliseconds(100));
    seq.lock().await.next().await.unwrap();
    assert_eq!(store.load("k").await.unwrap(), Some(n + RESERVATION));
}

#[tokio::test]
async fn keys_have_independent_sequences() {
    let (store, clock) = setup();
    let clock: SharedClock = Arc::new(clock);
    let a = NonceSequence::new("a", store.clone(), clock.clone());
    let b = NonceSequence::new("b", store, clock);
    let na = a.lock().await.next().await.unwrap();
    let nb = b.lock().await.next().await.unwrap();
    assert_eq!(na, nb);
}

#[tokio::test]
async fn clients_of_one_key_share_the_registered_sequence() {
    let (store, clock) = setup();
    let clock: SharedClock = Arc::new(clock);
    let a = NonceSequence::for_key("shared-test-key", store.clone(), clock.clone());
    let b = NonceSequence::for_key("shared-test-key", store, clock);
    assert!(Arc::ptr_eq(&a, &b));
}

#[derive(Debug)]
struct BrokenStore;

#[async_trait]
impl NonceStore for BrokenStore {
    async fn load(&self, _: &str) -> Result<Option<u64>, NonceError> {
        Ok(None)
    }
    async fn save(&self, _: &str, _: u64) -> Result<(), NonceError> {
        Err(NonceError("disk full".into()))
    }
}

#[tokio::test]
async fn no_nonce_is_issued_when_the_reservation_cannot_be_persisted() {
    let (_, clock) = setup();
    let seq = NonceSequence::new("k", Arc::new(BrokenStore), Arc::new(clock));
    assert!(seq.lock().await.next().await.is_err());
}
