//! Building the service from its configuration, and serving it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Mode};
use crate::exchange::kraken::{KrakenExchange, KrakenPublic, SqliteNonceStore};
use crate::exchange::paper::PaperExchange;
use crate::exchange::Exchange;
use crate::executor::Executor;
use crate::http::rate_limit::IngressLimiter;
use crate::http::{self, AppState};
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::pairs::PairTable;
use crate::risk::market::MarketData;
use crate::store::lock::DatabaseLock;
use crate::store::Store;

/// What can be swapped in for tests: the clock and the exchange.
#[derive(Clone, Default)]
pub struct Overrides {
    pub clock: Option<SharedClock>,
    pub exchange: Option<Arc<dyn Exchange>>,
}

/// A built, migrated service, ready to serve.
pub struct App {
    state: AppState,
    /// This process's claim on the database, held until `serve` returns.
    lock: Option<DatabaseLock>,
    /// Outbound notifications (issue 12).
    notifier: crate::notify::Notifier,
}

impl App {
    /// Opens the database, applies migrations and wires the pipeline.
    pub async fn build(config: Config, overrides: Overrides) -> anyhow::Result<App> {
        let config = Arc::new(config);
        // One instance per database, before anything touches it (src/store/lock.rs).
        let lock = crate::store::lock::acquire(&config.database.url)?;
        let limiter = IngressLimiter::from_config(&config);
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let store = Store::open(&config.database, clock.clone())
            .await
            .with_context(|| format!("opening the database at {}", config.database.url))?;
        store.migrate().await.context("applying migrations")?;
        let exchange = match overrides.exchange {
            Some(exchange) => exchange,
            None => default_exchange(&config, &store)?,
        };
        // Fills the exchange reports reach the writer through the recorder.
        if let Some(fills) = exchange.take_fills() {
            tokio::spawn(crate::fills::recorder::run(
                store.clone(),
                exchange.clone(),
                fills,
            ));
        }
        let market = Arc::new(
            MarketData::new(clock.clone())
                .persisting_to(store.clone())
                .await,
        );
        let metrics = {
            let exchange = exchange.clone();
            Metrics::with_headroom(move || exchange.rate_limit_headroom())
        };
        let intake = Intake::new(
            store.clone(),
            config.clone(),
            exchange.clone(),
            market.clone(),
        );
        let executor = Executor::new(
            store.clone(),
            exchange,
            clock.clone(),
            config.exchange.clone(),
            config.risk.clone(),
            market,
            metrics.clone(),
        );
        let notifier = crate::notify::Notifier::start(&store, &config, clock.clone(), &metrics)
            .await
            .context("starting notifications")?;
        Ok(App {
            notifier,
            state: AppState {
                config,
                store,
                intake,
                executor,
                clock,
                limiter,
                metrics,
            },
            lock,
        })
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight
    /// submissions finish. Start-up recovery runs first in the background: signals
    /// are accepted and recorded meanwhile, but nothing new is sent until it is done.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            state,
            lock,
            notifier,
        } = self;
        // Released only after the last write below (the store's close).
        let _lock = lock;
        let executor = state.executor.clone();
        let leftovers = executor
            .leftovers()
            .await
            .context("reading orders left unsettled by the previous run")?;
        let recovery = tokio::spawn({
            let executor = executor.clone();
            async move {
                let settled = executor.recover(leftovers).await;
                tracing::info!(settled, "start-up recovery done");
            }
        });
        let grace = Duration::from_secs(state.config.exchange.deadline_secs.saturating_add(5));
        let store = state.store.clone();
        let router = http::router(state);
        tracing::info!(address = %listener.local_addr()?, "tradehook listening");
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
        tracing::info!("shutting down: finishing in-flight submissions");
        recovery.abort();
        executor.shutdown(grace).await;
        notifier.stop().await;
        store.close().await;
        Ok(())
    }

    /// The state handlers share, for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

/// How often resting paper limit orders are checked against the public ticker.
const PAPER_TICKER_EVERY: Duration = Duration::from_secs(5);

fn default_exchange(config: &Config, store: &Store) -> anyhow::Result<Arc<dyn Exchange>> {
    match config.exchange.mode {
        Mode::Paper => {
            let pairs = PairTable::snapshot();
            // Balances may name assets as people write them (USD, BTC) or by Kraken id.
            let balances: Vec<(String, rust_decimal::Decimal)> = config
                .exchange
                .paper_balances
                .iter()
                .map(|(asset, amount)| (crate::pairs::asset_id(&pairs, asset), *amount))
                .collect();
            let paper = PaperExchange::new(pairs)
                .with_fee_pct(config.exchange.paper_fee_pct)
                .with_balances(balances);
            if !config.exchange.paper_market_data {
                return Ok(Arc::new(paper));
            }
            let public = KrakenPublic::new(&config.exchange.kraken_url)
                .context("building the Kraken public-data client")?;
            let paper = Arc::new(paper.with_market_data(public));
            // Resting paper limit orders fill when the public ticker crosses them.
            tokio::spawn({
                let paper = Arc::downgrade(&paper);
                async move {
                    let mut tick = tokio::time::interval(PAPER_TICKER_EVERY);
                    loop {
                        tick.tick().await;
                        let Some(paper) = paper.upgrade() else { break };
                        paper.poll_resting().await;
                    }
                }
            });
            Ok(paper)
        }
        Mode::Validate | Mode::Live => {
            let nonces = Arc::new(SqliteNonceStore::from_store(store.clone()));
            let kraken = KrakenExchange::new(&config.exchange, nonces)
                .context("building the Kraken client")?;
            Ok(Arc::new(kraken))
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
