//! The scenarios of issue 9's target table, their sizes (full or smoke), and what they
//! share: a fresh service per run, each on its own temporary database, and the
//! correctness checks that every run makes whatever its size.

mod fills;
mod history;
mod throughput;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;

use crate::drive::Bounds;
use crate::preload::{self, History};
use crate::report::Row;
use crate::service::{self, Exchange, Service};

/// One scenario, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Every scenario below, in this order.
    All,
    /// Durable `202`s, paper mode, N concurrent senders, beside a bare axum handler.
    Durable,
    /// One sender at a time: empty database vs. many orders already recorded today.
    Sequential,
    /// Signal-to-wire in live mode against an in-process fake Kraken, over REST
    /// `AddOrder` and over WebSocket `add_order`.
    Wire,
    /// Fill-to-record over the executions feed, 100 fills/s from the WebSocket fake.
    Fills,
    /// Replays of one recorded signal, N concurrent.
    Replay,
    /// Forged signals refused, N concurrent, beside a stream of valid ones.
    Forged,
    /// `GET /v1/orders` under every filter combination on a large history.
    Audit,
    /// Spawn to `/readyz` on a large history.
    Startup,
}

impl Scenario {
    /// The scenarios to run for a selection.
    pub fn expand(selection: &[Scenario]) -> Vec<Scenario> {
        use Scenario::*;
        let every = [
            Durable, Sequential, Wire, Fills, Replay, Forged, Audit, Startup,
        ];
        if selection.is_empty() || selection.contains(&All) {
            return every.to_vec();
        }
        every
            .into_iter()
            .filter(|s| selection.contains(s))
            .collect()
    }
}

/// How big each run is.
#[derive(Clone, Debug)]
pub struct Plan {
    pub smoke: bool,
    /// Concurrent senders of the closed-model runs (durable, replay, forged).
    pub senders: usize,
    /// Wall-time bound of each timed run.
    pub duration: Duration,
    /// Signals signed ahead for one throughput run (the run stops when they run out).
    pub max_signals: u64,
    /// Orders recorded today before the second sequential run.
    pub sequential_today: u64,
    /// Signal-to-wire runs: (signals, per second).
    pub wire_runs: Vec<(u64, f64)>,
    /// Valid signals per second beside the forged flood.
    pub valid_rate: f64,
    /// History for the audit and start-up runs.
    pub history: History,
    /// Concurrent readers of the audit run, and the bounds per filter combination.
    pub readers: usize,
    pub per_query: Bounds,
    pub startups: usize,
}

impl Plan {
    /// The full sizes of issue 9.
    pub fn full() -> Plan {
        Plan {
            smoke: false,
            senders: 64,
            duration: Duration::from_secs(10),
            max_signals: 200_000,
            sequential_today: 100_000,
            wire_runs: vec![(400, 200.0), (500, 1_000.0)],
            valid_rate: 50.0,
            history: History {
                orders: 1_000_000,
                today: 8_400,
            },
            readers: 4,
            per_query: Bounds {
                max_requests: 400,
                max_time: Duration::from_secs(4),
            },
            startups: 3,
        }
    }

    /// A few seconds in a debug build: correctness only, never timing.
    pub fn smoke() -> Plan {
        Plan {
            smoke: true,
            senders: 8,
            duration: Duration::from_secs(5),
            max_signals: 40,
            sequential_today: 2_000,
            wire_runs: vec![(12, 200.0), (12, 1_000.0)],
            valid_rate: 50.0,
            history: History {
                orders: 2_000,
                today: 200,
            },
            readers: 4,
            per_query: Bounds {
                max_requests: 4,
                max_time: Duration::from_secs(5),
            },
            startups: 1,
        }
    }

    /// How long a closed run of at most `max` requests may take: the plan's duration,
    /// or much longer in a smoke run, which is bounded by its count instead.
    pub fn bounds(&self, max_requests: u64) -> Bounds {
        let max_time = if self.smoke {
            Duration::from_secs(30)
        } else {
            self.duration
        };
        Bounds {
            max_requests,
            max_time,
        }
    }
}

/// Results and failures so far.
pub struct Ctx {
    pub plan: Plan,
    pub rows: Vec<Row>,
    /// Correctness failures: any makes the bench exit non-zero.
    pub failures: Vec<String>,
    /// The large preloaded database shared by the audit and start-up runs.
    history_dir: Option<TempDir>,
    /// A distinct webhook-id prefix per service start.
    runs: u64,
}

impl Ctx {
    pub fn new(plan: Plan) -> Ctx {
        Ctx {
            plan,
            rows: Vec::new(),
            failures: Vec::new(),
            history_dir: None,
            runs: 0,
        }
    }

    /// Records a failure unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("FAILED: {what}");
            self.failures.push(what);
        }
    }

    /// A fresh prefix for webhook-ids.
    pub fn run_id(&mut self) -> String {
        self.runs += 1;
        format!(
            "{}_{}",
            self.runs,
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("run")
        )
    }

    /// The preloaded history database (made on first use): its folder and config.
    pub async fn history(&mut self) -> anyhow::Result<PathBuf> {
        if self.history_dir.is_none() {
            let history = self.plan.history;
            let (dir, took) = preloaded(history).await?;
            eprintln!(
                "preloaded {} orders ({} today) in {:.1} s",
                history.orders,
                history.today,
                took.as_secs_f64()
            );
            self.rows.push(Row::figure(
                "preload",
                &format!("{} orders, {} today", history.orders, history.today),
                format!("written in {:.1} s", took.as_secs_f64()),
            ));
            self.history_dir = Some(dir);
        }
        let dir = self
            .history_dir
            .as_ref()
            .map(|d| d.path().join("tradehook.toml"));
        dir.ok_or_else(|| anyhow::anyhow!("no history database"))
    }
}

/// A folder with a paper-mode config and a migrated database holding `history`.
async fn preloaded(history: History) -> anyhow::Result<(TempDir, Duration)> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("tradehook.db");
    let config = service::write_config(dir.path(), &db, &Exchange::Paper)?;
    service::migrate(&config).await?;
    let took = preload::preload(&db, history).await?;
    Ok((dir, took))
}

/// A service on an empty database in a new folder.
async fn fresh(exchange: &Exchange) -> anyhow::Result<(TempDir, Service)> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("tradehook.db");
    let config = service::write_config(dir.path(), &db, exchange)?;
    let service = Service::start(&config, exchange).await?;
    Ok((dir, service))
}

/// Runs one scenario, adding its rows (and failures) to `ctx`.
pub async fn run(ctx: &mut Ctx, scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::All => Ok(()),
        Scenario::Durable => throughput::durable(ctx).await,
        Scenario::Sequential => throughput::sequential(ctx).await,
        Scenario::Wire => wire::wire(ctx).await,
        Scenario::Fills => fills::fills(ctx).await,
        Scenario::Replay => throughput::replay(ctx).await,
        Scenario::Forged => throughput::forged(ctx).await,
        Scenario::Audit => history::audit(ctx).await,
        Scenario::Startup => history::startup(ctx).await,
    }
}
