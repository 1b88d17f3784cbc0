//! The one writer: a task that owns SQLite's write connection and applies every write
//! of the service — claims, status changes, the kill switch, nonce reservations, the
//! pair cache — with group commit.
//!
//! Callers send a [`Command`] over a channel and await its answer. The task takes every
//! command waiting (up to [`MAX_BATCH`]), applies them in arrival order inside one
//! `BEGIN IMMEDIATE` transaction, each under its own savepoint so one refused command
//! does not undo the others, commits once — one fsync for the whole batch — and only
//! then answers each caller. Nothing is answered (no `202`) and nothing is handed to
//! the executor before the commit holding it is on disk; if the commit fails, every
//! command of the batch is answered with the error and the in-memory risk state is
//! reloaded from the database.
//!
//! The writer also owns the [`RiskLedger`]: a claim later in a batch sees every
//! decision earlier in it (windows, idempotency, the kill switch), because they are
//! applied to the ledger as they are written.
//!
//! This is the one seam in front of storage writes: a store with one active writer
//! holding a lease (PostgreSQL) could replace this task without changing its callers.

use std::sync::{Arc, Mutex};

use sqlx::SqliteConnection;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use super::claim::{self, Accepted, Claim};
use super::orders::{ChangeError, OrderRecord};
use super::transition::{self, StatusChange};
use super::{control_ops, StoreError};
use crate::clock::SharedClock;
use crate::order::OrderStatus;
use crate::risk::ledger::RiskLedger;
use crate::risk::Halt;

/// Most commands applied in one transaction: bounds a batch's latency and memory.
pub const MAX_BATCH: usize = 512;
/// Commands that may wait for the writer before senders are held back.
const QUEUE: usize = 8192;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write, with where its answer goes.
pub(crate) enum Write {
    Claim(Box<Claim>, Reply<Accepted>),
    Change(
        Box<StatusChange>,
        oneshot::Sender<Result<OrderRecord, ChangeError>>,
    ),
    Halt(String, Reply<bool>),
    Resume(Reply<bool>),
    SaveNonce(String, i64, Reply<()>),
    SavePairs(String, i64, Reply<()>),
    Probe(Reply<()>),
}

/// What the writer task is asked to do.
pub(crate) enum Command {
    /// A write, applied in the next batch.
    Write(Write),
    /// Apply pending migrations (outside any batch), then load the risk state.
    Migrate(Reply<()>),
    /// Finish the batch in hand, close the connection and stop.
    Close(oneshot::Sender<()>),
}

/// What the writer publishes for everyone to read without asking it.
pub(crate) struct Published {
    /// The kill switch, as last committed.
    pub halt: watch::Sender<Option<Halt>>,
    /// Every committed status change, by client order ID.
    pub updates: broadcast::Sender<(Uuid, OrderStatus)>,
    /// Orders committed `pending`, for the executor to send; taken once.
    pub new_orders: Mutex<Option<mpsc::UnboundedReceiver<OrderRecord>>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    commands: mpsc::Sender<Command>,
    pub published: Arc<Published>,
}

impl WriterHandle {
    /// Starts the writer task on `conn`.
    pub fn spawn(conn: SqliteConnection, clock: SharedClock) -> WriterHandle {
        let (commands, inbox) = mpsc::channel(QUEUE);
        let (new_tx, new_rx) = mpsc::unbounded_channel();
        let published = Arc::new(Published {
            halt: watch::channel(None).0,
            updates: broadcast::channel(4096).0,
            new_orders: Mutex::new(Some(new_rx)),
        });
        let task = WriterTask {
            conn,
            clock,
            ledger: None,
            published: published.clone(),
            new_orders: new_tx,
        };
        tokio::spawn(task.run(inbox));
        WriterHandle {
            commands,
            published,
        }
    }

    /// Sends `command` built around a fresh reply channel and awaits the answer.
    pub async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)
    }
}

/// A command's answer, held until the batch is committed.
enum Done {
    Claim(Reply<Accepted>, Result<Accepted, StoreError>),
    Change(
        oneshot::Sender<Result<OrderRecord, ChangeError>>,
        Result<OrderRecord, ChangeError>,
    ),
    Flag(Reply<bool>, Result<bool, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
}

impl Done {
    /// Answers the caller with the command's result.
    fn answer(self) {
        match self {
            Done::Claim(reply, result) => drop(reply.send(result)),
            Done::Change(reply, result) => drop(reply.send(result)),
            Done::Flag(reply, result) => drop(reply.send(result)),
            Done::Unit(reply, result) => drop(reply.send(result)),
        }
    }

    /// Answers the caller with an error instead: the batch did not commit.
    fn fail(self, why: &str) {
        let err = || StoreError::CommitFailed(why.to_owned());
        match self {
            Done::Claim(reply, _) => drop(reply.send(Err(err()))),
            Done::Change(reply, _) => drop(reply.send(Err(ChangeError::Store(err())))),
            Done::Flag(reply, _) => drop(reply.send(Err(err()))),
            Done::Unit(reply, _) => drop(reply.send(Err(err()))),
        }
    }
}

struct WriterTask {
    conn: SqliteConnection,
    clock: SharedClock,
    /// `None` until loaded (after migrations), or after a reload failed.
    ledger: Option<RiskLedger>,
    published: Arc<Published>,
    new_orders: mpsc::UnboundedSender<OrderRecord>,
}

impl WriterTask {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut closing = None;
        while closing.is_none() && inbox.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let mut writes = Vec::with_capacity(batch.len());
            for command in std::mem::take(&mut batch) {
                match command {
                    Command::Write(write) => writes.push(write),
                    Command::Migrate(reply) => {
                        // Apply what came before it first, in order.
                        self.apply_batch(std::mem::take(&mut writes)).await;
                        let _ = reply.send(self.migrate().await);
                    }
                    Command::Close(reply) => closing = Some(reply),
                }
            }
            self.apply_batch(writes).await;
        }
        use sqlx::Connection as _;
        if let Err(err) = self.conn.close().await {
            tracing::warn!(error = %err, "closing the write connection");
        }
        if let Some(reply) = closing {
            let _ = reply.send(());
        }
    }

    async fn migrate(&mut self) -> Result<(), StoreError> {
        super::MIGRATOR.run_direct(&mut self.conn).await?;
        self.reload_ledger().await?;
        Ok(())
    }

    async fn reload_ledger(&mut self) -> Result<(), StoreError> {
        self.ledger = None;
        let ledger = RiskLedger::load(&mut self.conn, self.clock.now()).await?;
        let _ = self.published.halt.send_replace(ledger.halt().cloned());
        self.ledger = Some(ledger);
        Ok(())
    }

    /// Loads the ledger if it is not; an error fails the command (closed).
    async fn ensure_ledger(&mut self) -> Result<(), StoreError> {
        if self.ledger.is_none() {
            self.reload_ledger().await?;
        }
        Ok(())
    }

    async fn exec(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(&mut self.conn).await.map(|_| ())
    }

    /// Keeps (`RELEASE`) or undoes (`ROLLBACK TO`, then `RELEASE`) one command's writes.
    async fn end_savepoint(&mut self, keep: bool) -> Result<(), sqlx::Error> {
        if !keep {
            self.exec("ROLLBACK TO command").await?;
        }
        self.exec("RELEASE command").await
    }

    async fn apply_batch(&mut self, writes: Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        if let Err(err) = self.exec("BEGIN IMMEDIATE").await {
            tracing::error!(error = %err, "cannot start a write transaction");
            for write in writes {
                answer_unapplied(write, &err.to_string());
            }
            return;
        }
        let mut done = Vec::with_capacity(writes.len());
        let mut effects = Effects::default();
        for write in writes {
            if let Err(err) = self.exec("SAVEPOINT command").await {
                answer_unapplied(write, &err.to_string());
                continue;
            }
            let (kept, answer) = self.apply(write, &mut effects).await;
            if let Err(err) = self.end_savepoint(kept).await {
                tracing::error!(error = %err, "cannot end a savepoint");
            }
            done.push(answer);
        }
        match self.exec("COMMIT").await {
            Ok(()) => {
                if let Some(ledger) = &self.ledger {
                    self.published
                        .halt
                        .send_if_modified(|halt| set_if_changed(halt, ledger.halt()));
                }
                done.into_iter().for_each(Done::answer);
                for order in effects.new_orders {
                    // Nobody takes them when no executor runs (tools, some tests);
                    // start-up recovery sends what is left pending.
                    let _ = self.new_orders.send(order);
                }
                for update in effects.announce {
                    let _ = self.published.updates.send(update);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "a batch failed to commit; nothing in it was kept");
                let _ = self.exec("ROLLBACK").await;
                let why = err.to_string();
                done.into_iter().for_each(|d| d.fail(&why));
                if let Err(err) = self.reload_ledger().await {
                    tracing::error!(error = %err, "cannot reload the risk state");
                }
            }
        }
    }

    /// Applies one write inside the batch's transaction; whether its writes are kept,
    /// and its answer.
    async fn apply(&mut self, write: Write, effects: &mut Effects) -> (bool, Done) {
        let now = self.clock.now();
        match write {
            Write::Claim(claim, reply) => {
                let result = match self.ensure_ledger().await {
                    Ok(()) => match self.ledger.as_mut() {
                        Some(ledger) => claim::apply(&mut self.conn, ledger, &claim, now).await,
                        None => Err(StoreError::CommitFailed("risk state unavailable".into())),
                    },
                    Err(err) => Err(err),
                };
                if let Ok(Accepted::New(record)) = &result {
                    effects.new_orders.push(record.clone());
                }
                if let Ok(Accepted::New(record) | Accepted::Refused(record)) = &result {
                    effects
                        .announce
                        .push((record.client_order_id, record.status));
                }
                (result.is_ok(), Done::Claim(reply, result))
            }
            Write::Change(change, reply) => {
                let result = match self.ensure_ledger().await {
                    Ok(()) => match self.ledger.as_mut() {
                        Some(ledger) => {
                            transition::apply(&mut self.conn, ledger, &change, now).await
                        }
                        None => Err(ChangeError::Store(StoreError::CommitFailed(
                            "risk state unavailable".into(),
                        ))),
                    },
                    Err(err) => Err(ChangeError::Store(err)),
                };
                if let Ok(record) = &result {
                    effects
                        .announce
                        .push((record.client_order_id, record.status));
                }
                (result.is_ok(), Done::Change(reply, result))
            }
            Write::Halt(reason, reply) => {
                let ledger = self.ledger.as_mut();
                let result = control_ops::halt(&mut self.conn, ledger, &reason, now).await;
                (result.is_ok(), Done::Flag(reply, result))
            }
            Write::Resume(reply) => {
                let ledger = self.ledger.as_mut();
                let result = control_ops::resume(&mut self.conn, ledger, now).await;
                (result.is_ok(), Done::Flag(reply, result))
            }
            Write::SaveNonce(key_id, high_water, reply) => {
                let result = control_ops::save_nonce(&mut self.conn, &key_id, high_water).await;
                (result.is_ok(), Done::Unit(reply, result))
            }
            Write::SavePairs(json, at, reply) => {
                let result = control_ops::save_pairs(&mut self.conn, &json, at).await;
                (result.is_ok(), Done::Unit(reply, result))
            }
            Write::Probe(reply) => {
                let result = control_ops::probe(&mut self.conn).await;
                (result.is_ok(), Done::Unit(reply, result))
            }
        }
    }
}

/// What a batch does once committed.
#[derive(Default)]
struct Effects {
    /// Claims committed `pending`: handed to the executor.
    new_orders: Vec<OrderRecord>,
    /// Status changes: announced to `?wait` callers.
    announce: Vec<(Uuid, OrderStatus)>,
}

fn set_if_changed(current: &mut Option<Halt>, committed: Option<&Halt>) -> bool {
    if current.as_ref() == committed {
        return false;
    }
    *current = committed.cloned();
    true
}

/// Answers a write that could not even be started.
fn answer_unapplied(write: Write, why: &str) {
    let err = || StoreError::CommitFailed(why.to_owned());
    match write {
        Write::Claim(_, reply) => drop(reply.send(Err(err()))),
        Write::Change(_, reply) => drop(reply.send(Err(ChangeError::Store(err())))),
        Write::Halt(_, reply) | Write::Resume(reply) => drop(reply.send(Err(err()))),
        Write::SaveNonce(_, _, reply) | Write::SavePairs(_, _, reply) | Write::Probe(reply) => {
            drop(reply.send(Err(err())))
        }
    }
}
