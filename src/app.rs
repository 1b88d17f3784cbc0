//! Building the service from its configuration, and serving it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
use crate::serve::fdlimit;
use crate::serve::limits::ConnectionLimits;
use crate::serve::ServeOptions;
use crate::store::lock::DatabaseLock;
use crate::store::Store;
use crate::tls::Https;

/// What can be swapped in for tests: the clock, the exchange, and the roots TLS
/// peers must chain to (the public roots otherwise).
#[derive(Clone, Default)]
pub struct Overrides {
    pub clock: Option<SharedClock>,
    pub exchange: Option<Arc<dyn Exchange>>,
    pub trust: crate::tls::TrustOverrides,
}

/// A built, migrated service, ready to serve.
pub struct App {
    state: AppState,
    /// This process's claim on the database, held until `serve` returns.
    lock: Option<DatabaseLock>,
    /// HTTPS, when `[server]` configures it.
    https: Option<Https>,
    /// Outbound notifications (issue 12).
    notifier: crate::notify::Notifier,
}

impl App {
    /// Opens the database, applies migrations and wires the pipeline.
    pub async fn build(config: Config, overrides: Overrides) -> anyhow::Result<App> {
        let config = Arc::new(config);
        let https = crate::tls::from_config(&config, overrides.trust.clone())
            .context("setting up HTTPS")?;
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
            https,
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
            https,
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
        let config = state.config.clone();
        let router = http::router(state);
        let cap =
            fdlimit::connection_cap(config.server.max_connections, fdlimit::raise_nofile_limit());
        let limits = ConnectionLimits::from_config(&config, cap);
        let mut options = ServeOptions::from_config(&config.server, limits);
        let stop = CancellationToken::new();
        let mut background = Vec::new();
        if let Some(https) = https {
            if let Some(files) = &https.files {
                let every = Duration::from_secs(config.server.tls_reload_secs);
                background.push(files.watch(every));
            }
            background.extend(https.acme_task);
            options.tls = Some(https.listener);
        }
        let local = listener.local_addr()?;
        if let (Some(address), Some(_)) = (config.server.redirect_http, &options.tls) {
            let redirect = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (server.redirect_http)"))?;
            let mut plain = options.clone();
            plain.tls = None;
            let stop = stop.clone();
            background.push(tokio::spawn(async move {
                crate::serve::serve(
                    redirect,
                    crate::tls::redirect::router(local.port()),
                    plain,
                    stop.cancelled_owned(),
                )
                .await;
            }));
        }
        log_start(&config, local, options.tls.is_some(), cap);
        crate::serve::serve(listener, router, options, shutdown).await;
        stop.cancel();
        for task in background {
            task.abort();
        }
        tracing::info!("shutting down: finishing in-flight submissions");
        recovery.abort();
        executor.shutdown(grace).await;
        notifier.stop().await;
        store.close().await;
        Ok(())
    }

    /// True when the app serves HTTPS.
    pub fn serves_https(&self) -> bool {
        self.https.is_some()
    }

    /// The state handlers share, for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

/// How often resting paper limit orders are checked against the public ticker.
const PAPER_TICKER_EVERY: Duration = Duration::from_secs(5);

/// The start-up line: where to reach the service, its mode, sources and database.
fn log_start(config: &Config, address: SocketAddr, https: bool, max_connections: usize) {
    let scheme = if https { "https" } else { "http" };
    let sources: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    tracing::info!(
        url = %format!("{scheme}://{address}"),
        %address,
        mode = ?config.exchange.mode,
        sources = %sources.join(","),
        database = %config.database.url,
        max_connections,
        "tradehook listening"
    );
}

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
