//! The durable switches of table `control`: the kill switch (`halted`) and the circuit
//! breaker's count of consecutive exchange failures. They live in the database so a
//! halt survives a restart, and they are changed inside the caller's write transaction
//! (every function takes the transaction's connection), next to the event that says
//! why.
//!
//! The kill switch fails closed: a value that cannot be read counts as halted.
//!
//! The service writes these rows only through the store's writer
//! (`store::control_ops`, from [`halt_value`]); the writing functions here build
//! states for tests.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::view::Halt;

/// `control.name` of the kill switch.
pub const HALTED: &str = "halted";
/// `control.name` of the circuit breaker's count.
pub const FAILURES: &str = "consecutive_exchange_failures";

/// The JSON stored in `control.value` for [`HALTED`].
#[derive(Debug, Serialize, Deserialize)]
struct HaltValue {
    halted: bool,
    #[serde(default)]
    reason: String,
    /// Unix ms when it was switched on.
    #[serde(default)]
    at: i64,
}

#[cfg(test)]
async fn put(
    conn: &mut SqliteConnection,
    name: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO control (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now.timestamp_millis())
    .execute(conn)
    .await?;
    Ok(())
}

async fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM control WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await
}

/// Whether trading is halted, with why and since when. Cheap (one primary-key read);
/// the writer loads it with the risk state.
pub async fn is_halted(conn: &mut SqliteConnection) -> Result<Option<Halt>, sqlx::Error> {
    let Some(text) = get(conn, HALTED).await? else {
        return Ok(None);
    };
    match serde_json::from_str::<HaltValue>(&text) {
        Ok(value) if !value.halted => Ok(None),
        Ok(value) => Ok(Some(Halt {
            reason: value.reason,
            since: Utc
                .timestamp_millis_opt(value.at)
                .single()
                .unwrap_or_default(),
        })),
        Err(err) => Ok(Some(Halt {
            reason: format!("the kill switch value in the database is unreadable ({err})"),
            since: DateTime::<Utc>::default(),
        })),
    }
}

#[cfg(test)]
/// Halts trading: every new signal is refused until [`resume`]. Returns `false` when it
/// was already halted, in which case the first reason and time are kept (they say when
/// trading really stopped).
pub async fn halt(
    conn: &mut SqliteConnection,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    if is_halted(conn).await?.is_some() {
        return Ok(false);
    }
    let value = HaltValue {
        halted: true,
        reason: reason.to_owned(),
        at: now.timestamp_millis(),
    };
    put(conn, HALTED, &json(&value), now).await?;
    Ok(true)
}

#[cfg(test)]
/// Resumes trading and resets the breaker's count (or the next failure would trip it
/// again at once). Returns whether it was halted.
pub async fn resume(conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let was_halted = is_halted(conn).await?.is_some();
    let value = HaltValue {
        halted: false,
        reason: String::new(),
        at: now.timestamp_millis(),
    };
    put(conn, HALTED, &json(&value), now).await?;
    reset_failures(conn, now).await?;
    Ok(was_halted)
}

/// The stored value of the kill switch: on with `reason` since `at`, or off.
pub fn halt_value(halt: Option<(&str, DateTime<Utc>)>, at: DateTime<Utc>) -> String {
    let value = match halt {
        Some((reason, since)) => HaltValue {
            halted: true,
            reason: reason.to_owned(),
            at: since.timestamp_millis(),
        },
        None => HaltValue {
            halted: false,
            reason: String::new(),
            at: at.timestamp_millis(),
        },
    };
    json(&value)
}

/// Serialising this plain struct cannot fail; the fallback is still a halted value.
fn json(value: &HaltValue) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| r#"{"halted":true}"#.to_owned())
}

#[cfg(test)]
/// Counts one more exchange failure in a row and returns the new count.
pub async fn record_failure(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<u32, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "INSERT INTO control (name, value, updated_at) VALUES (?, '1', ?)
         ON CONFLICT (name) DO UPDATE
             SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at
         RETURNING CAST(value AS INTEGER)",
    )
    .bind(FAILURES)
    .bind(now.timestamp_millis())
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

#[cfg(test)]
/// Sets the count of consecutive failures back to zero (the exchange took an order).
pub async fn reset_failures(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    put(conn, FAILURES, "0", now).await
}

/// The current count of consecutive exchange failures.
pub async fn consecutive_failures(conn: &mut SqliteConnection) -> Result<u32, sqlx::Error> {
    let text = get(conn, FAILURES).await?;
    Ok(text.and_then(|t| t.parse::<u32>().ok()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::state::tests::temp_db;
    use crate::risk::testkit::now;

    #[tokio::test]
    async fn a_fresh_database_is_not_halted() {
        let (_dir, pool) = temp_db().await;
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(is_halted(&mut conn).await.unwrap(), None);
    }

    #[tokio::test]
    async fn halt_survives_a_reconnect_and_resume_lifts_it() {
        let (dir, pool) = temp_db().await;
        let mut conn = pool.acquire().await.unwrap();
        assert!(halt(&mut conn, "admin: maintenance", now()).await.unwrap());
        assert!(!halt(&mut conn, "admin: again", now()).await.unwrap());
        drop(conn);
        pool.close().await;

        let pool = crate::risk::state::tests::open(&dir).await;
        let mut conn = pool.acquire().await.unwrap();
        let halt = is_halted(&mut conn).await.unwrap().unwrap();
        assert_eq!(halt.reason, "admin: maintenance");
        assert_eq!(halt.since, now());
        assert!(resume(&mut conn, now()).await.unwrap());
        assert_eq!(is_halted(&mut conn).await.unwrap(), None);
        assert!(!resume(&mut conn, now()).await.unwrap());
    }

    #[tokio::test]
    async fn an_unreadable_kill_switch_counts_as_halted() {
        let (_dir, pool) = temp_db().await;
        let mut conn = pool.acquire().await.unwrap();
        put(&mut conn, HALTED, "not json", now()).await.unwrap();
        let halt = is_halted(&mut conn).await.unwrap().unwrap();
        assert!(halt.reason.contains("unreadable"), "{}", halt.reason);
    }

    #[tokio::test]
    async fn failures_count_up_and_reset_on_success_or_resume() {
        let (_dir, pool) = temp_db().await;
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(consecutive_failures(&mut conn).await.unwrap(), 0);
        for expected in 1..=3 {
            assert_eq!(record_failure(&mut conn, now()).await.unwrap(), expected);
        }
        reset_failures(&mut conn, now()).await.unwrap();
        assert_eq!(record_failure(&mut conn, now()).await.unwrap(), 1);
        halt(&mut conn, "circuit breaker", now()).await.unwrap();
        resume(&mut conn, now()).await.unwrap();
        assert_eq!(consecutive_failures(&mut conn).await.unwrap(), 0);
    }
}
