//! Nonces that strictly increase per API key, across restarts and backward clock steps.
//!
//! A nonce is `max(now in ms, last + 1)`. The high-water mark is persisted through a
//! pluggable [`NonceStore`] *before* any nonce below it is handed out, by reserving a
//! block: when the next nonce would pass the persisted mark, the mark is moved to
//! `nonce + RESERVATION` first, and nonces up to it are then issued from memory.
//! After a crash or restart the next nonce starts above the persisted mark, so it is
//! above every nonce ever issued, whatever the clock says. Reserving a block (rather
//! than writing every nonce) keeps SQLite writes to about one per 10 s of activity,
//! at the price of nonces running at most 10 s ahead of the clock after a restart,
//! which Kraken does not mind.
//!
//! Issuing, signing and handing the request to its connection happen under one
//! per-key async mutex ([`NonceSequence::lock`]), so requests leave in nonce order;
//! the lock is not held while the answer is awaited (see [`super::private`]). Sequences are shared per key within the
//! process ([`NonceSequence::for_key`]), so two clients on one key still serialise.
//! Two *processes* must never share a key: nothing can order their requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use async_trait::async_trait;
use sqlx::SqlitePool;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};

use crate::clock::SharedClock;
use crate::store::Store;

/// How far (in nonce units, i.e. milliseconds) each reservation reaches ahead.
pub const RESERVATION: u64 = 10_000;

/// The persisted high-water mark could not be read or written; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nonce store: {0}")]
pub struct NonceError(pub String);

/// Where the last reserved nonce of each key survives restarts.
#[async_trait]
pub trait NonceStore: Send + Sync + fmt::Debug + 'static {
    /// The persisted high-water mark of `key_id`, if any.
    async fn load(&self, key_id: &str) -> Result<Option<u64>, NonceError>;
    /// Raises the mark of `key_id` to `high_water`; a store never lowers it.
    async fn save(&self, key_id: &str, high_water: u64) -> Result<(), NonceError>;
}

/// A store that forgets on restart; for tests.
#[derive(Debug, Default)]
pub struct MemoryNonceStore(Mutex<HashMap<String, u64>>);

impl MemoryNonceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl NonceStore for MemoryNonceStore {
    async fn load(&self, key_id: &str) -> Result<Option<u64>, NonceError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(key_id).copied())
    }

    async fn save(&self, key_id: &str, high_water: u64) -> Result<(), NonceError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(key_id.to_owned()).or_insert(high_water);
        *entry = (*entry).max(high_water);
        Ok(())
    }
}

/// The `nonces` table (key_id = hex SHA-256 of the API key, never the key).
#[derive(Debug, Clone)]
pub struct SqliteNonceStore {
    db: Db,
}

#[derive(Debug, Clone)]
enum Db {
    /// A plain pool (tests, tools).
    Pool(SqlitePool),
    /// The service's store: writes go through its single writer (`BEGIN IMMEDIATE`).
    Store(Store),
}

const LOAD: &str = "SELECT last_nonce FROM nonces WHERE key_id = ?";
// MAX() keeps the mark monotonic even if a stale writer ever came second.
const SAVE: &str = "INSERT INTO nonces (key_id, last_nonce) VALUES (?, ?) \
     ON CONFLICT (key_id) DO UPDATE SET last_nonce = MAX(last_nonce, excluded.last_nonce)";

fn db_error(err: impl fmt::Display) -> NonceError {
    NonceError(err.to_string())
}

impl SqliteNonceStore {
    /// A store over a migrated database pool.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteNonceStore { db: Db::Pool(pool) }
    }

    /// A store sharing the service's database and its single writer.
    pub fn from_store(store: Store) -> Self {
        SqliteNonceStore {
            db: Db::Store(store),
        }
    }
}

#[async_trait]
impl NonceStore for SqliteNonceStore {
    async fn load(&self, key_id: &str) -> Result<Option<u64>, NonceError> {
        let query = sqlx::query_as::<_, (i64,)>(LOAD).bind(key_id);
        let row = match &self.db {
            Db::Pool(pool) => query.fetch_optional(pool).await,
            Db::Store(store) => query.fetch_optional(store.reader()).await,
        }
        .map_err(db_error)?;
        row.map(|(n,)| u64::try_from(n).map_err(|_| NonceError(format!("negative nonce {n}"))))
            .transpose()
    }

    async fn save(&self, key_id: &str, high_water: u64) -> Result<(), NonceError> {
        let value = i64::try_from(high_water)
            .map_err(|_| NonceError(format!("nonce {high_water} does not fit SQLite")))?;
        match &self.db {
            Db::Pool(pool) => {
                let query = sqlx::query(SAVE).bind(key_id).bind(value);
                query.execute(pool).await.map_err(db_error)?;
            }
            Db::Store(store) => {
                store.save_nonce(key_id, value).await.map_err(db_error)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    last_issued: u64,
    reserved: u64,
}

/// The nonce sequence of one API key.
pub struct NonceSequence {
    key_id: String,
    store: Arc<dyn NonceStore>,
    clock: SharedClock,
    state: AsyncMutex<State>,
}

impl fmt::Debug for NonceSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceSequence")
            .field("key_id", &self.key_id)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Live sequences by key id, so every client of one key in this process shares one.
fn registry() -> &'static Mutex<HashMap<String, Weak<NonceSequence>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<NonceSequence>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

impl NonceSequence {
    /// A sequence of its own (not shared through the registry); mostly for tests.
    pub fn new(key_id: impl Into<String>, store: Arc<dyn NonceStore>, clock: SharedClock) -> Self {
        NonceSequence {
            key_id: key_id.into(),
            store,
            clock,
            state: AsyncMutex::default(),
        }
    }

    /// The process-wide sequence of `key_id`, created with `store` and `clock` if no
    /// client of that key is alive.
    pub fn for_key(key_id: &str, store: Arc<dyn NonceStore>, clock: SharedClock) -> Arc<Self> {
        let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, weak| weak.strong_count() > 0);
        if let Some(existing) = map.get(key_id).and_then(Weak::upgrade) {
            return existing;
        }
        let sequence = Arc::new(NonceSequence::new(key_id, store, clock));
        map.insert(key_id.to_owned(), Arc::downgrade(&sequence));
        sequence
    }

    /// The key this sequence belongs to (a hash of the API key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Takes the per-key lock. Hold the guard until the signed request has been
    /// handed to its connection (not until it is answered), so that requests leave
    /// in nonce order without one slow answer holding up the next request.
    pub async fn lock(&self) -> NonceGuard<'_> {
        NonceGuard {
            sequence: self,
            state: self.state.lock().await,
        }
    }
}

/// Exclusive use of a key's sequence: issue a nonce, then sign and hand the request
/// to its connection while holding this.
pub struct NonceGuard<'a> {
    sequence: &'a NonceSequence,
    state: MutexGuard<'a, State>,
}

impl NonceGuard<'_> {
    /// The next nonce; persists a new reservation first when the last one is used up.
    pub async fn next(&mut self) -> Result<u64, NonceError> {
        let sequence = self.sequence;
        if !self.state.loaded {
            let persisted = sequence.store.load(&sequence.key_id).await?.unwrap_or(0);
            self.state.last_issued = persisted;
            self.state.reserved = persisted;
            self.state.loaded = true;
        }
        let now_ms = u64::try_from(sequence.clock.now().timestamp_millis()).unwrap_or(0);
        let nonce = now_ms.max(self.state.last_issued.saturating_add(1));
        if nonce > self.state.reserved {
            let reserve = nonce.saturating_add(RESERVATION);
            sequence.store.save(&sequence.key_id, reserve).await?;
            self.state.reserved = reserve;
        }
        self.state.last_issued = nonce;
        Ok(nonce)
    }
}

#[cfg(test)]
#[path = "nonce_tests.rs"]
mod tests;
