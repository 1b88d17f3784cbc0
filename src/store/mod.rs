//! SQLite storage: connection setup, migrations, the single writer and the readers.
//!
//! One writer connection, owned by the writer task (`writer`) that applies every
//! write with group commit, and a pool of read-only connections, in WAL mode with
//! `synchronous=FULL`, so a `202` means the record survives a power cut. Reads never
//! wait for the writer.
//!
//! # Layout
//!
//! - `writer`: the task, its batches and what it publishes (kill switch, updates).
//! - [`claim`], [`transition`], `control_ops`: what one write does.
//! - [`orders`], [`events`]: the tables' rows and queries; [`pair_cache`].

mod batch;
pub mod claim;
pub mod clock;
mod control_ops;
pub mod events;
pub mod listing;
pub mod lock;
pub mod orders;
pub mod pair_cache;
mod recent;
pub mod transition;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use self::claim::{Accepted, Claim};
use self::orders::{ChangeError, OrderRecord};
use self::transition::StatusChange;
use self::writer::{Command, Write, WriterHandle};
use crate::clock::{SharedClock, SystemClock};
use crate::order::OrderStatus;
use crate::risk::Halt;

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
    #[error("the write was not committed: {0}")]
    CommitFailed(String),
    #[error("the database writer has stopped")]
    WriterGone,
}

/// Handles to the database: the writer task and the readers.
#[derive(Clone)]
pub struct Store {
    writer: WriterHandle,
    reader: SqlitePool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the configured database; the writer reads time from `clock`.
    pub async fn open(
        config: &crate::config::DatabaseConfig,
        clock: SharedClock,
    ) -> Result<Store, StoreError> {
        let busy = Duration::from_millis(config.busy_timeout_ms);
        Store::connect_with_clock(&config.url, busy, clock).await
    }

    /// Opens (creating if needed) the database at `url` (`sqlite://path`) on the system
    /// clock; a write waits up to `busy_timeout` for SQLite's lock.
    pub async fn connect(url: &str, busy_timeout: Duration) -> Result<Store, StoreError> {
        Store::connect_with_clock(url, busy_timeout, Arc::new(SystemClock)).await
    }

    /// [`Store::connect`] with the writer reading time from `clock`.
    pub async fn connect_with_clock(
        url: &str,
        busy_timeout: Duration,
        clock: SharedClock,
    ) -> Result<Store, StoreError> {
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
        let conn = options.clone().connect().await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout)
            .connect_with(options.read_only(true))
            .await?;
        let writer = WriterHandle::spawn(conn, clock);
        Ok(Store { writer, reader })
    }

    async fn write<T>(
        &self,
        write: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        self.writer
            .ask(|reply| Command::Write(write(reply)))
            .await?
    }

    /// Applies pending migrations, then loads the risk state.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.writer.ask(Command::Migrate).await?
    }

    /// Judges and records a new signal (see [`claim`]). A `New` order is handed to the
    /// executor by the writer itself once committed, whatever becomes of the caller.
    pub async fn claim(&self, claim: Claim) -> Result<Accepted, StoreError> {
        self.write(|reply| Write::Claim(Box::new(claim), reply))
            .await
    }

    /// Records a status change with its event (see [`transition`]).
    pub async fn change(&self, change: StatusChange) -> Result<OrderRecord, ChangeError> {
        self.writer
            .ask(|reply| Command::Write(Write::Change(Box::new(change), reply)))
            .await
            .map_err(ChangeError::Store)?
    }

    /// Halts trading; whether it was running.
    pub async fn halt(&self, reason: &str) -> Result<bool, StoreError> {
        self.write(|reply| Write::Halt(reason.to_owned(), reply))
            .await
    }

    /// Resumes trading and resets the circuit breaker; whether it was halted.
    pub async fn resume(&self) -> Result<bool, StoreError> {
        self.write(Write::Resume).await
    }

    /// Raises the persisted nonce mark of `key_id`.
    pub async fn save_nonce(&self, key_id: &str, high_water: i64) -> Result<(), StoreError> {
        self.write(|reply| Write::SaveNonce(key_id.to_owned(), high_water, reply))
            .await
    }

    /// Replaces the cached pair table.
    pub async fn save_pairs(&self, json: String, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(|reply| Write::SavePairs(json, to_millis(at), reply))
            .await
    }

    /// Sets which channel takes which notification; from then on the writer stores
    /// the notifications of every change it commits. Set once; later calls are ignored.
    pub fn route_notifications(&self, routes: crate::notify::routes::Routes) {
        let _ = self.writer.published.notify.set(routes);
    }

    /// Stores notifications, records a delivery outcome or schedules a redelivery.
    pub async fn outbox(
        &self,
        write: crate::notify::outbox::OutboxWrite,
    ) -> Result<(), StoreError> {
        self.write(|reply| Write::Outbox(write, reply)).await
    }

    /// The kill switch as last committed; read without asking the writer.
    pub fn halted(&self) -> Option<Halt> {
        self.writer.published.halt.borrow().clone()
    }

    /// Every committed status change from now on, by client order ID.
    pub fn subscribe(&self) -> broadcast::Receiver<(Uuid, OrderStatus)> {
        self.writer.published.updates.subscribe()
    }

    /// The orders the writer commits `pending`, for the executor; `None` once taken.
    pub fn take_new_orders(&self) -> Option<mpsc::UnboundedReceiver<OrderRecord>> {
        self.writer
            .published
            .new_orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The order with this client order ID as last committed: from the writer's cache
    /// of recent records when it holds it, else from the read pool. Never waits for
    /// the writer.
    pub async fn order(&self, client_order_id: Uuid) -> Result<Option<OrderRecord>, StoreError> {
        if let Some(record) = self.writer.published.recent.get(&client_order_id) {
            return Ok(Some(record));
        }
        orders::get(&self.reader, client_order_id).await
    }

    /// The read-only pool, for queries that write nothing.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Whether the database takes a write and every migration is applied.
    pub async fn is_ready(&self) -> bool {
        self.write(Write::Probe).await.is_ok()
    }

    /// Closes the readers, then lets the writer finish what it holds and close,
    /// flushing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        let _ = self.writer.ask(Command::Close).await;
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
