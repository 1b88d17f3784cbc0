//! The property the whole design exists for: signals judged concurrently, each in its
//! own `BEGIN IMMEDIATE` transaction that reads the state, evaluates and records the
//! verdict (as the intake does), can never jointly pass a limit.

use crate::risk::state::tests::{insert, temp_db, Row};
use crate::risk::state::{load, StateQuery};
use crate::risk::testkit::{dec, Scenario};
use crate::risk::{evaluate, Verdict};

/// Judges `n` signals concurrently, each in its own `BEGIN IMMEDIATE` transaction as
/// the store will, and returns how many were approved.
async fn judge_concurrently(scenario: Scenario, n: usize) -> usize {
    let (_dir, pool) = temp_db().await;
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (pool, s) = (pool.clone(), scenario.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let query = StateQuery::new("test", &s.signal, &s.market, s.now);
            let state = load(&mut tx, &query).await.unwrap();
            let verdict = evaluate(&s.config, &s.source, &s.signal, &s.market, &state, s.now);
            let (status, notional) = match &verdict {
                Verdict::Approved(o) => ("pending", o.notional.map(|n| n.to_string())),
                Verdict::Refused { .. } => ("rejected", None),
            };
            let row = Row {
                status,
                notional: notional.as_deref(),
                ..Row::default()
            };
            insert(&mut tx, row).await;
            tx.commit().await.unwrap();
            verdict.is_approved()
        }));
    }
    let mut approved = 0;
    for task in tasks {
        approved += usize::from(task.await.unwrap());
    }
    approved
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_signals_never_pass_ten_per_minute_jointly() {
    let mut scenario = Scenario::new();
    scenario.config.max_orders_per_minute = Some(10);
    assert_eq!(judge_concurrently(scenario, 50).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_signals_never_pass_the_daily_notional_jointly() {
    let mut scenario = Scenario::new();
    // Each order is worth 500: exactly 7 fit in 3 500.
    scenario.config.max_daily_notional = Some(dec("3500"));
    assert_eq!(judge_concurrently(scenario, 50).await, 7);
}
