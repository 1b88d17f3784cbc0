//! SQLite storage: connection setup, migrations, and the single serialised writer.
//!
//! One writer connection and a pool of readers, in WAL mode with `synchronous=FULL`,
//! so a `202` means the record survives a power cut. Every write starts with
//! `BEGIN IMMEDIATE`: it takes the write lock up front, so a read-then-write
//! transaction (claim + risk check) can never fail half-way with `SQLITE_BUSY`, and
//! concurrent signals are decided one after the other.

pub mod clock;
pub mod events;
pub mod listing;
pub mod lock;
pub mod orders;
pub mod pair_cache;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// The schema, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A storage failure. Its message never contains a secret: nothing secret is stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Handles to the database: one writer, several readers.
#[derive(Debug, Clone)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// A write transaction holding SQLite's write lock.
pub type WriteTx = Transaction<'static, Sqlite>;

impl Store {
    /// Opens the configured database.
    pub async fn open(config: &crate::config::DatabaseConfig) -> Result<Store, StoreError> {
        Store::connect(&config.url, Duration::from_millis(config.busy_timeout_ms)).await
    }

    /// Opens (creating if needed) the database at `url` (`sqlite://path`); a write
    /// waits up to `busy_timeout` for the lock.
    pub async fn connect(url: &str, busy_timeout: Duration) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        if let Some(folder) = options.get_filename().parent() {
            if !folder.as_os_str().is_empty() && !folder.exists() {
                create_folder(folder)?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(busy_timeout)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Store { writer, reader })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`) on the single writer connection.
    /// Never hold it across a network call.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The read-only pool, for queries that write nothing.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Whether the database takes a write and every migration is applied.
    pub async fn is_ready(&self) -> bool {
        let Ok(mut tx) = self.begin_write().await else {
            return false;
        };
        let migrated: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&mut *tx)
                .await;
        let writable = sqlx::query("CREATE TEMP TABLE IF NOT EXISTS readyz_probe (x)")
            .execute(&mut *tx)
            .await
            .is_ok();
        let _ = tx.rollback().await;
        let expected = MIGRATOR.iter().count() as i64;
        writable && matches!(migrated, Ok(n) if n >= expected)
    }

    /// Closes both pools, flushing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn create_folder(folder: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
        path: folder.display().to_string(),
        source,
    })
}

/// Milliseconds since the Unix epoch, the time format of every column.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The inverse of [`to_millis`]; out-of-range values (impossible from our own writes)
/// clamp to the epoch rather than panic.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
