//! The writer's small writes: the kill switch, nonce reservations, the pair cache and
//! the readiness probe.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::batch::Plan;
use super::StoreError;
use crate::risk::ledger::RiskLedger;
use crate::risk::{control, Halt};

/// Halts trading in the plan and the ledger; whether it was running. A halt that is
/// already on keeps its first reason and time: they say when trading really stopped.
pub fn halt(plan: &mut Plan, ledger: &mut RiskLedger, reason: &str, now: DateTime<Utc>) -> bool {
    if ledger.halt().is_some() {
        return false;
    }
    plan.halt_value = Some(control::halt_value(Some((reason, now)), now));
    ledger.set_halt(Some(Halt {
        reason: reason.to_owned(),
        since: now,
    }));
    true
}

/// Resumes trading and resets the breaker, in the plan and the ledger; whether it was
/// halted.
pub fn resume(plan: &mut Plan, ledger: &mut RiskLedger, now: DateTime<Utc>) -> bool {
    let was_halted = ledger.halt().is_some();
    plan.halt_value = Some(control::halt_value(None, now));
    plan.failures = Some(0);
    ledger.set_halt(None);
    ledger.set_failures(0);
    was_halted
}

/// Upserts one row of `control`.
pub async fn put(
    conn: &mut SqliteConnection,
    name: &str,
    value: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO control (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Raises the persisted nonce mark of `key_id` (never lowers it).
pub async fn save_nonce(
    conn: &mut SqliteConnection,
    key_id: &str,
    high_water: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO nonces (key_id, last_nonce) VALUES (?, ?)
         ON CONFLICT (key_id) DO UPDATE SET last_nonce = MAX(last_nonce, excluded.last_nonce)",
    )
    .bind(key_id)
    .bind(high_water)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the cached pair table (JSON) fetched at `at` (Unix ms).
pub async fn save_pairs(
    conn: &mut SqliteConnection,
    json: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO pair_cache (id, pairs, fetched_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pairs = excluded.pairs, fetched_at = excluded.fetched_at",
    )
    .bind(json)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the database takes a write and every migration is applied.
pub async fn probe(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let migrated: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS readyz_probe (x)")
        .execute(&mut *conn)
        .await?;
    let expected = i64::try_from(super::MIGRATOR.iter().count()).unwrap_or(i64::MAX);
    if migrated < expected {
        return Err(StoreError::CommitFailed(format!(
            "{migrated} of {expected} migrations applied"
        )));
    }
    Ok(())
}
