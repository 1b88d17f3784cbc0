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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::SqliteConnection;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use super::batch::{self, Plan};
use super::claim::{self, Accepted, Claim, Planned};
use super::orders::{ChangeError, OrderRecord};
use super::recent::RecentOrders;
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
    /// Notifications: new rows, a delivery outcome, a redelivery (see `crate::notify`).
    Outbox(crate::notify::outbox::OutboxWrite, Reply<()>),
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
    /// The latest committed records, for replays.
    pub recent: RecentOrders,
    /// The notification channels' subscriptions, set once at start-up; while unset
    /// (tools, most tests) no outbox row is written.
    pub notify: std::sync::OnceLock<crate::notify::routes::Routes>,
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
            recent: RecentOrders::default(),
            notify: std::sync::OnceLock::new(),
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
    Claim(Reply<Accepted>, Result<Planned, StoreError>, String),
    Change(
        oneshot::Sender<Result<OrderRecord, ChangeError>>,
        Box<Result<OrderRecord, ChangeError>>,
    ),
    Flag(Reply<bool>, Result<bool, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
}

impl Done {
    /// Answers the caller once `plan` is committed.
    fn answer(self, plan: &Plan) {
        match self {
            Done::Claim(reply, result, hash) => {
                drop(reply.send(result.map(|planned| planned.resolve(plan, &hash))))
            }
            Done::Change(reply, result) => drop(reply.send(*result)),
            Done::Flag(reply, result) => drop(reply.send(result)),
            Done::Unit(reply, result) => drop(reply.send(result)),
        }
    }

    /// Answers the caller with an error instead: the batch did not commit.
    fn fail(self, why: &str) {
        let err = || StoreError::CommitFailed(why.to_owned());
        match self {
            Done::Claim(reply, _, _) => drop(reply.send(Err(err()))),
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

    async fn apply_batch(&mut self, writes: Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        // One instant per batch, at the database's precision, so every answer equals
        // what a later read returns.
        let now = super::from_millis(super::to_millis(self.clock.now()));
        let started = std::time::Instant::now();
        let commands = writes.len();
        let mut done = Vec::with_capacity(writes.len());
        let mut plan = Plan::default();
        let mut phases = Phases::default();
        let result = self
            .plan_and_write(writes, &mut done, &mut plan, now, &mut phases)
            .await;
        let written = started.elapsed();
        let result = match result {
            Ok(()) => self.exec("COMMIT").await.map_err(StoreError::from),
            Err(err) => Err(err),
        };
        tracing::debug!(
            commands,
            read_us = phases.read.as_micros() as u64,
            plan_us = phases.plan.as_micros() as u64,
            insert_us = plan.timings[0].as_micros() as u64,
            update_us = plan.timings[1].as_micros() as u64,
            events_us = plan.timings[2].as_micros() as u64,
            write_us = written.as_micros() as u64,
            commit_us = (started.elapsed() - written).as_micros() as u64,
            "batch"
        );
        match result {
            Ok(()) => {
                if let Some(ledger) = &self.ledger {
                    self.published
                        .halt
                        .send_if_modified(|halt| set_if_changed(halt, ledger.halt()));
                }
                let mut announce: Vec<(Uuid, OrderStatus)> = Vec::with_capacity(done.len());
                for answer in &done {
                    if let Done::Change(_, result) = answer {
                        let Ok(record) = result.as_ref() else {
                            continue;
                        };
                        announce.push((record.client_order_id, record.status));
                        self.published.recent.put(record.clone());
                    }
                }
                done.into_iter().for_each(|d| d.answer(&plan));
                for order in plan.into_inserted() {
                    announce.push((order.client_order_id, order.status));
                    self.published.recent.put(order.clone());
                    if order.status == OrderStatus::Pending {
                        // Nobody takes them when no executor runs (tools, some tests);
                        // start-up recovery sends what is left pending.
                        let _ = self.new_orders.send(order);
                    }
                }
                for update in announce {
                    let _ = self.published.updates.send(update);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "a batch failed; nothing in it was kept");
                let _ = self.exec("ROLLBACK").await;
                let why = err.to_string();
                done.into_iter().for_each(|d| d.fail(&why));
                if let Err(err) = self.reload_ledger().await {
                    tracing::error!(error = %err, "cannot reload the risk state");
                }
            }
        }
    }

    /// Opens the transaction, reads what the batch needs, decides every write in
    /// arrival order and writes the plan. The caller commits or rolls back.
    async fn plan_and_write(
        &mut self,
        writes: Vec<Write>,
        done: &mut Vec<Done>,
        plan: &mut Plan,
        now: chrono::DateTime<chrono::Utc>,
        phases: &mut Phases,
    ) -> Result<(), StoreError> {
        let mut pending = writes.into_iter();
        let started = async {
            self.exec("BEGIN IMMEDIATE").await?;
            self.ensure_ledger().await
        }
        .await;
        if let Err(err) = started {
            // Answered by the caller's rollback path: nothing was planned yet.
            for write in pending.by_ref() {
                done.push(unplanned(write));
            }
            return Err(err);
        }
        let writes: Vec<Write> = pending.collect();
        let ids: Vec<Uuid> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Claim(claim, _) => Some(claim.client_order_id),
                Write::Change(change, _) => Some(change.client_order_id),
                _ => None,
            })
            .collect();
        // Only this task writes orders and it refreshes the cache after every commit,
        // so a cached record is exactly what the table holds: read the table only for
        // the rest (new claims, and orders older than the cache).
        let reading = std::time::Instant::now();
        let (mut known, misses) = self.published.recent.get_many(&ids);
        match batch::find_many(&mut self.conn, &misses).await {
            Ok(found) => known.extend(found),
            Err(err) => {
                done.extend(writes.into_iter().map(unplanned));
                return Err(err);
            }
        }
        phases.read = reading.elapsed();
        let planning = std::time::Instant::now();
        let mut claimed = HashMap::new();
        for write in writes {
            let answer = self
                .plan_one(write, plan, &mut known, &mut claimed, now)
                .await;
            done.push(answer);
        }
        phases.plan = planning.elapsed();
        plan.write(&mut self.conn, now).await
    }

    /// Decides one write into `plan`, with the notifications reporting it (the one
    /// hook of `crate::notify` into the writer).
    async fn plan_one(
        &mut self,
        write: Write,
        plan: &mut Plan,
        known: &mut HashMap<Uuid, OrderRecord>,
        claimed: &mut HashMap<Uuid, usize>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Done {
        if self.published.notify.get().is_none() {
            return self.decide(write, plan, known, claimed, now).await;
        }
        let halt_before = self.ledger.as_ref().and_then(|l| l.halt().cloned());
        let done = self.decide(write, plan, known, claimed, now).await;
        let (Some(routes), Some(ledger)) = (self.published.notify.get(), &self.ledger) else {
            return done;
        };
        let order = match &done {
            Done::Claim(_, Ok(Planned::Inserted(index, _)), _) => Some(plan.inserted(*index)),
            Done::Change(_, result) => result.as_ref().as_ref().ok(),
            _ => None,
        };
        let decided = crate::notify::events::Decided {
            order,
            halt_before: halt_before.as_ref(),
            halt_after: ledger.halt(),
        };
        let rows = crate::notify::events::for_change(routes, &decided, now);
        plan.outbox.extend(rows);
        done
    }

    /// Decides one write into `plan`.
    async fn decide(
        &mut self,
        write: Write,
        plan: &mut Plan,
        known: &mut HashMap<Uuid, OrderRecord>,
        claimed: &mut HashMap<Uuid, usize>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Done {
        let Some(ledger) = self.ledger.as_mut() else {
            return unplanned(write);
        };
        match write {
            Write::Claim(claim, reply) => {
                let recorded = known.get(&claim.client_order_id);
                let result = claim::plan(plan, ledger, &claim, recorded, claimed, now);
                Done::Claim(reply, result, claim.content_hash)
            }
            Write::Change(change, reply) => {
                let result = transition::plan(plan, ledger, known, &change, now);
                Done::Change(reply, Box::new(result))
            }
            Write::Halt(reason, reply) => {
                Done::Flag(reply, Ok(control_ops::halt(plan, ledger, &reason, now)))
            }
            Write::Resume(reply) => Done::Flag(reply, Ok(control_ops::resume(plan, ledger, now))),
            Write::SaveNonce(key_id, high_water, reply) => {
                plan.save_nonce(key_id, high_water);
                Done::Unit(reply, Ok(()))
            }
            Write::SavePairs(json, at, reply) => {
                plan.save_pairs(json, at);
                Done::Unit(reply, Ok(()))
            }
            Write::Probe(reply) => {
                let result = control_ops::probe(&mut self.conn).await;
                Done::Unit(reply, result)
            }
            Write::Outbox(write, reply) => {
                plan.outbox.apply(write);
                Done::Unit(reply, Ok(()))
            }
        }
    }
}

/// Where a batch's time went before its writes, for the `batch` debug line.
#[derive(Debug, Default)]
struct Phases {
    /// Reading the records the batch's commands name (cache, then table).
    read: std::time::Duration,
    /// Deciding every command in memory.
    plan: std::time::Duration,
}

/// A write that was never decided: answered with the batch's error.
fn unplanned(write: Write) -> Done {
    let never = || StoreError::CommitFailed("not applied".into());
    match write {
        Write::Claim(claim, reply) => Done::Claim(reply, Err(never()), claim.content_hash),
        Write::Change(_, reply) => Done::Change(reply, Box::new(Err(ChangeError::Store(never())))),
        Write::Halt(_, reply) | Write::Resume(reply) => Done::Flag(reply, Err(never())),
        Write::SaveNonce(_, _, reply)
        | Write::SavePairs(_, _, reply)
        | Write::Probe(reply)
        | Write::Outbox(_, reply) => Done::Unit(reply, Err(never())),
    }
}

fn set_if_changed(current: &mut Option<Halt>, committed: Option<&Halt>) -> bool {
    if current.as_ref() == committed {
        return false;
    }
    *current = committed.cloned();
    true
}
