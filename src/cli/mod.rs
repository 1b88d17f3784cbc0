//! The command line: `serve`, `migrate`, `check-config`, `send`, `audit`, `notify test`, `template`,
//! `healthcheck`.

mod audit;
mod cancel;
mod notify;
mod send;
mod template;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{shutdown_signal, App, Overrides};
use crate::config::Config;
use crate::store::Store;

/// tradehook: trading signals in, Kraken orders out — exactly once, with an audit trail.
///
/// Every command reads the same configuration: a TOML file (--config or
/// TRADEHOOK_CONFIG), overridden by TRADEHOOK_{SECTION}__{KEY} environment variables.
/// With no file at all it runs in paper mode on 127.0.0.1:8080 with data/tradehook.db.
#[derive(Debug, Parser)]
#[command(name = "tradehook", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "TRADEHOOK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: receive signals, place orders, serve the audit API.
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Sign a signal with a source's secret from the config and POST it to the
    /// running service; prints the answer.
    ///
    /// Example: tradehook --config examples/paper.toml send demo examples/signal.json
    Send(send::SendArgs),
    /// List recorded orders from the database (newest first).
    Audit(audit::AuditArgs),
    /// Outbound notifications: `notify test [NAME]` sends a test message through a
    /// configured channel and prints what it answered.
    Notify(notify::NotifyArgs),
    /// Print what to paste into a platform for a source: `template tradingview SOURCE`
    /// prints the webhook URL and the alert message.
    Template(template::TemplateArgs),
    /// Cancel an open order through the running service (admin token).
    Cancel(cancel::CancelArgs),
    /// Exit 0 if the service answers /healthz (for container health checks).
    Healthcheck {
        /// Base URL of the service; default: from server.listen (https when
        /// tradehook terminates TLS itself).
        #[arg(long)]
        url: Option<String>,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            // Migrating writes: never beside a running service (src/store/lock.rs).
            let _lock = crate::store::lock::acquire(&config.database.url)?;
            let store = Store::open(&config.database, Arc::new(crate::clock::SystemClock)).await?;
            store.migrate().await?;
            store.close().await;
            println!("database {} is up to date", config.database.url);
            Ok(())
        }
        Command::CheckConfig => {
            print!("{}", config.to_redacted_toml());
            eprintln!("configuration is valid");
            Ok(())
        }
        Command::Send(args) => send::run(&config, args).await,
        Command::Audit(args) => audit::run(&config, args).await,
        Command::Notify(args) => notify::run(&config, args).await,
        Command::Template(args) => template::run(&config, args),
        Command::Cancel(args) => cancel::run(&config, args).await,
        Command::Healthcheck { url } => {
            let tls = config.server.tls_cert.is_some() || !config.server.acme_domains.is_empty();
            let (url, client) = match url {
                Some(url) => (format!("{url}/healthz"), reqwest::Client::new()),
                // Its own listener over loopback: the certificate names the public
                // host, not 127.0.0.1, so only liveness is checked here, not identity.
                None if tls => (
                    format!(
                        "{}/healthz",
                        base_url(&config).replacen("http://", "https://", 1)
                    ),
                    reqwest::Client::builder()
                        .danger_accept_invalid_certs(true)
                        .build()?,
                ),
                None => (
                    format!("{}/healthz", base_url(&config)),
                    reqwest::Client::new(),
                ),
            };
            let response = client
                .get(&url)
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .with_context(|| format!("no answer from {url}"))?;
            anyhow::ensure!(
                response.status().is_success(),
                "{url} answered {}",
                response.status()
            );
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    if config.server.audit_token.is_none() {
        tracing::warn!("server.audit_token is not set: the audit API refuses every request");
    }
    if config.server.admin_token.is_none() {
        tracing::warn!("server.admin_token is not set: halt and resume are unavailable");
    }
    if config.sources.is_empty() {
        tracing::warn!("no [[sources]] configured: every signal will be refused");
    }
    tracing::info!(mode = ?config.exchange.mode, database = %config.database.url, "starting tradehook");
    let listen = config.server.listen;
    let app = App::build(config, Overrides::default()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    app.serve(listener, shutdown_signal()).await
}

/// `http://host:port` of the configured listener, with an unspecified address
/// (`0.0.0.0`) replaced by loopback.
pub fn base_url(config: &Config) -> String {
    let mut address: SocketAddr = config.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{address}")
}
