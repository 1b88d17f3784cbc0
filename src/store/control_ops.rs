//! The writer's small writes: the kill switch, nonce reservations, the pair cache and
//! the readiness probe.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::StoreError;
use crate::risk::ledger::RiskLedger;
use crate::risk::{control, Halt};

/// Halts trading; whether it was running. The ledger follows once written.
pub async fn halt(
    conn: &mut SqliteConnection,
    ledger: Option<&mut RiskLedger>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let newly = control::halt(conn, reason, now).await?;
    if let (true, Some(ledger)) = (newly, ledger) {
        ledger.set_halt(Some(Halt {
            reason: reason.to_owned(),
            since: now,
        }));
    }
    Ok(newly)
}

/// Resumes trading and resets the breaker; whether it was halted.
pub async fn resume(
    conn: &mut SqliteConnection,
    ledger: Option<&mut RiskLedger>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let was_halted = control::resume(conn, now).await?;
    if let Some(ledger) = ledger {
        ledger.set_halt(None);
        ledger.set_failures(0);
    }
    Ok(was_halted)
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
