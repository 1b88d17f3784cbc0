//! The outbox's writes through the real writer on a temporary database.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::store::Store;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("outbox.db").display());
    let store = Store::connect(&url, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

async fn rows(store: &Store) -> Vec<(String, String, i64, Option<String>)> {
    sqlx::query_as("SELECT id, status, attempts, last_error FROM notifications ORDER BY seq")
        .fetch_all(store.reader())
        .await
        .unwrap()
}

fn row(dedupe: Option<&str>) -> OutboxRow {
    OutboxRow::new(
        "ops",
        EventKind::Halted,
        None,
        dedupe.map(str::to_owned),
        &json!({"reason": "x"}),
        Utc::now(),
    )
}

#[tokio::test]
async fn a_once_only_notification_is_stored_once_per_channel() {
    let (_dir, store) = store().await;
    for _ in 0..3 {
        let write = OutboxWrite::Enqueue(vec![row(Some("daily_summary:2026-01-01"))]);
        store.outbox(write).await.unwrap();
    }
    store
        .outbox(OutboxWrite::Enqueue(vec![row(None)]))
        .await
        .unwrap();
    assert_eq!(rows(&store).await.len(), 2);
}

#[tokio::test]
async fn an_order_unknown_row_is_dropped_once_its_order_is_no_longer_unsettled() {
    let (_dir, store) = store().await;
    let mut checked = row(None);
    checked.order_key = Some(uuid::Uuid::new_v4().to_string());
    checked.while_unsettled = true;
    store
        .outbox(OutboxWrite::Enqueue(vec![checked]))
        .await
        .unwrap();
    assert!(rows(&store).await.is_empty(), "no such unsettled order");
}

#[tokio::test]
async fn outcomes_count_attempts_and_a_redelivery_makes_a_dead_row_pending_again() {
    let (_dir, store) = store().await;
    let first = row(None);
    let id = first.id.clone();
    store
        .outbox(OutboxWrite::Enqueue(vec![first]))
        .await
        .unwrap();
    let failed = Outcome {
        id: id.clone(),
        status: DeliveryStatus::Pending,
        next_attempt_at: Utc::now(),
        error: Some("HTTP 500: down".into()),
    };
    store
        .outbox(OutboxWrite::Record(failed.clone()))
        .await
        .unwrap();
    let dead = Outcome {
        status: DeliveryStatus::Dead,
        ..failed
    };
    store
        .outbox(OutboxWrite::Record(dead.clone()))
        .await
        .unwrap();
    let after = rows(&store).await;
    assert_eq!(after[0].1, "dead");
    assert_eq!(after[0].2, 2);
    // A late outcome for a row no longer pending changes nothing.
    store.outbox(OutboxWrite::Record(dead)).await.unwrap();
    assert_eq!(rows(&store).await[0].2, 2);
    store
        .outbox(OutboxWrite::Redeliver(id.clone()))
        .await
        .unwrap();
    let again = rows(&store).await;
    assert_eq!(
        (again[0].0.as_str(), again[0].1.as_str()),
        (id.as_str(), "pending")
    );
}

#[tokio::test]
async fn pruning_deletes_only_old_settled_notifications() {
    let (_dir, store) = store().await;
    let old = Utc::now() - chrono::Duration::days(40);
    let mut rows_in = Vec::new();
    for _ in 0..3 {
        let mut row = row(None);
        row.created_at = old;
        rows_in.push(row);
    }
    let fresh = row(None);
    let (delivered, dead, pending) = (
        rows_in[0].id.clone(),
        rows_in[1].id.clone(),
        rows_in[2].id.clone(),
    );
    rows_in.push(fresh.clone());
    store.outbox(OutboxWrite::Enqueue(rows_in)).await.unwrap();
    for (id, status) in [
        (&delivered, DeliveryStatus::Delivered),
        (&dead, DeliveryStatus::Dead),
        (&fresh.id, DeliveryStatus::Delivered),
    ] {
        let outcome = Outcome {
            id: id.clone(),
            status,
            next_attempt_at: Utc::now(),
            error: None,
        };
        store.outbox(OutboxWrite::Record(outcome)).await.unwrap();
    }
    let before = Utc::now() - chrono::Duration::days(30);
    store.outbox(OutboxWrite::Prune(before)).await.unwrap();
    let left: Vec<String> = rows(&store).await.into_iter().map(|r| r.0).collect();
    assert_eq!(left, vec![pending, fresh.id]);
}
