//! tradehook's load generator and benchmark harness (issue 9).
//!
//! It starts the real `tradehook` binary — built by Cargo in this bench's profile —
//! on a temporary database and drives it over loopback with correctly signed Standard
//! Webhooks signals, as a signal platform would. It measures each row of issue 9's
//! target table and prints a markdown table; the JSON goes to `--json PATH`.
//!
//! ```text
//! cargo bench --bench load -- all                 # every scenario, full size
//! cargo bench --bench load -- durable wire        # some of them
//! cargo bench --bench load -- audit --history-orders 200000
//! ```
//!
//! Run without `--bench` (which `cargo bench` passes and `cargo test --all-targets`
//! does not), it makes a short smoke run instead: a handful of signals per scenario in
//! a few seconds, asserting only correctness — every valid signal `202`, each order
//! on the fake Kraken exactly once, replays `200`, forged signals `401` — and exiting
//! non-zero on any failure. It never asserts a timing.
//!
//! # Layout
//!
//! * `signing`: Standard Webhooks signer and the signals sent.
//! * `http`: a keep-alive hyper client over prepared requests.
//! * `drive`: the closed and open load models, HDR histograms.
//! * `service`: the binary as a child process; `proc`: its peak RSS and CPU.
//! * `bare`: the bare axum handler measured beside it.
//! * `preload`: order history written straight into SQLite.
//! * `scenarios`: one function per row of the target table.
//! * `report`: the markdown table and the JSON file.

#![forbid(unsafe_code)]

mod bare;
mod drive;
mod http;
mod preload;
mod proc;
mod report;
mod scenarios;
mod service;
mod signing;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

use scenarios::{Ctx, Plan, Scenario};
use support::fake_kraken;

/// Options; every size defaults to issue 9's table.
#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "tradehook load generator (cargo bench --bench load -- all)"
)]
struct Options {
    /// Scenarios to run (default: all).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "target/bench/results.json")]
    json: PathBuf,
    /// Make the short correctness run even under `cargo bench`.
    #[arg(long)]
    smoke: bool,
    /// Concurrent senders of the closed-model runs.
    #[arg(long)]
    senders: Option<usize>,
    /// Seconds each timed run lasts at most.
    #[arg(long)]
    duration: Option<u64>,
    /// Orders of history preloaded for the audit and start-up runs.
    #[arg(long)]
    history_orders: Option<u64>,
    /// Of those, created today.
    #[arg(long)]
    history_today: Option<u64>,
    /// Orders already recorded today in the second sequential run.
    #[arg(long)]
    sequential_today: Option<u64>,
    /// `RUST_LOG` for the service (default: unset, which logs at `info`).
    #[arg(long)]
    service_log: Option<String>,
    /// Append everything the service logs to this file (for per-batch timings with
    /// `--service-log tradehook::store=debug`).
    #[arg(long)]
    service_log_file: Option<std::path::PathBuf>,
}

impl Options {
    fn plan(&self, smoke: bool) -> Plan {
        let mut plan = if smoke { Plan::smoke() } else { Plan::full() };
        plan.senders = self.senders.unwrap_or(plan.senders).max(1);
        plan.duration = self.duration.map_or(plan.duration, Duration::from_secs);
        plan.history.orders = self.history_orders.unwrap_or(plan.history.orders);
        plan.history.today = self.history_today.unwrap_or(plan.history.today);
        plan.sequential_today = self.sequential_today.unwrap_or(plan.sequential_today);
        plan
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    args.retain(|a| a != "--bench");
    let options = match Options::try_parse_from(&args) {
        Ok(options) => options,
        Err(err) if bench || err.kind() == clap::error::ErrorKind::DisplayHelp => err.exit(),
        Err(err) => {
            // `cargo test` may pass its own filters and flags: the smoke run ignores them.
            eprintln!("load: ignoring the arguments ({:?})", err.kind());
            Options::parse_from(["load"])
        }
    };
    let smoke = !bench || options.smoke;
    if let Some(filter) = &options.service_log {
        let _ = service::SERVICE_LOG.set(filter.clone());
    }
    if let Some(path) = &options.service_log_file {
        let _ = service::SERVICE_LOG_FILE.set(path.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let outcome = runtime
        .context("the load generator's runtime")
        .and_then(|runtime| runtime.block_on(run(&options, smoke)));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("load: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios; `Ok(false)` when a correctness check failed.
async fn run(options: &Options, smoke: bool) -> anyhow::Result<bool> {
    signing::self_test()?;
    let plan = options.plan(smoke);
    let selected = Scenario::expand(&options.scenarios);
    eprintln!(
        "load: {} run of {selected:?} against {}",
        if smoke { "smoke" } else { "full" },
        service::BINARY
    );
    let started = Instant::now();
    let load_before = proc::load_average();
    let mut ctx = Ctx::new(plan.clone());
    for scenario in &selected {
        let at = Instant::now();
        eprintln!("load: {scenario:?} ...");
        scenarios::run(&mut ctx, *scenario)
            .await
            .with_context(|| format!("scenario {scenario:?}"))?;
        eprintln!(
            "load: {scenario:?} done in {:.1} s",
            at.elapsed().as_secs_f64()
        );
    }
    println!("{}", report::markdown(&ctx.rows));
    println!(
        "load average before / after: {load_before} / {}",
        proc::load_average()
    );
    let context = serde_json::json!({
        "smoke": smoke,
        "scenarios": format!("{selected:?}"),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "binary": service::BINARY,
        "machine": proc::machine(),
        "load_average_before": load_before,
        "plan": format!("{plan:?}"),
        "seconds": started.elapsed().as_secs_f64(),
        "failures": ctx.failures,
        "at": chrono::Utc::now().to_rfc3339(),
    });
    if !smoke || options.json != Options::parse_from(["load"]).json {
        report::write_json(&options.json, context, &ctx.rows)?;
        eprintln!("load: results written to {}", options.json.display());
    }
    if ctx.failures.is_empty() {
        eprintln!(
            "load: every correctness check passed ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        Ok(true)
    } else {
        eprintln!("load: {} correctness checks FAILED", ctx.failures.len());
        Ok(false)
    }
}
