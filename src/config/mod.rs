//! Configuration: a TOML file, overridden by `TRADEHOOK_<SECTION>__<KEY>` environment
//! variables, with secrets also readable from `<VAR>_FILE` (Docker secrets).
//!
//! Every key has a safe default (paper mode, loopback, a local SQLite file), so the
//! service runs with no file at all. A bad value stops start-up with a message naming
//! the key; `tradehook check-config` prints the effective config with secrets redacted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::signal::OrderType;

use env::{describe_figment_error, read_secret_file, secret_files_from_env};

mod env;
mod ranges;
#[cfg(test)]
mod tests;
mod validate;
pub(crate) use validate::check_name;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "TRADEHOOK_";

/// A configuration problem, naming the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an override could not be read or has the wrong shape.
    #[error("{0}")]
    Load(String),
    /// A value is well-formed but not acceptable.
    #[error("invalid `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub exchange: ExchangeConfig,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub risk: RiskConfig,
    /// `[[notify]]`: outbound notification channels (see [`crate::notify`]).
    #[serde(default)]
    pub notify: Vec<crate::notify::config::ChannelConfig>,
    /// `[notifications]`: how notifications are delivered.
    #[serde(default)]
    pub notifications: crate::notify::config::NotificationsConfig,
}

/// `[server]`: the HTTP listener and its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Set when a TLS-terminating proxy sits in front, allowing plain HTTP off loopback.
    pub behind_tls_proxy: bool,
    /// Bearer token for the read-only audit API; unset disables it.
    pub audit_token: Option<Secret>,
    /// Bearer token for halt/resume; unset disables them.
    pub admin_token: Option<Secret>,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Longest `?wait=` a caller may ask for, in seconds.
    pub max_wait_secs: u64,
    /// Failed-authentication requests (forged, unsigned, unknown source) answered per
    /// minute from one client address before the rest are answered `429`; `0` or unset
    /// disables. Authenticated signals never count against it.
    pub rate_limit_per_minute: Option<u32>,
    /// Seconds a client has to send a request's headers (and a TLS handshake); an
    /// idle keep-alive connection is closed after the same time.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a whole request, body included; later is `408`.
    pub request_timeout_secs: u64,
    /// Connections held at once, in total (kept below the open-file limit).
    pub max_connections: u64,
    /// Connections held at once from one client address; TradingView's addresses,
    /// sources' `allowed_ips` and `trusted_proxies` are exempt.
    pub max_connections_per_ip: u64,
    /// A plain-HTTP listener that redirects every request to HTTPS (e.g. `0.0.0.0:80`).
    pub redirect_http: Option<SocketAddr>,
    /// Seconds between checks of `tls_cert`/`tls_key` for a changed file.
    pub tls_reload_secs: u64,
    /// Domain names to obtain a certificate for from an ACME CA (TLS-ALPN-01).
    pub acme_domains: Vec<String>,
    /// Contact address given to the ACME CA.
    pub acme_email: Option<String>,
    /// The ACME directory URL (default Let's Encrypt production).
    pub acme_directory: String,
    /// Where ACME account keys and certificates are kept.
    pub acme_cache_dir: PathBuf,
    /// Serve `GET /metrics` without a token (SPEC §7 lists it beside `/healthz`);
    /// `false` puts it behind the audit (or admin) token.
    pub metrics_public: bool,
}

/// Let's Encrypt's production ACME directory, the default `server.acme_directory`.
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            behind_tls_proxy: false,
            audit_token: None,
            admin_token: None,
            body_limit_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
            max_wait_secs: 30,
            rate_limit_per_minute: Some(600),
            header_timeout_secs: 5,
            request_timeout_secs: 10,
            max_connections: 1024,
            max_connections_per_ip: 64,
            redirect_http: None,
            tls_reload_secs: 10,
            acme_domains: Vec::new(),
            acme_email: None,
            acme_directory: LETS_ENCRYPT_PRODUCTION.into(),
            acme_cache_dir: PathBuf::from("data/acme"),
            metrics_public: true,
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db`; the file and its folder are created if missing.
    pub url: String,
    /// How long a write waits for the database lock before the request gets `503`.
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/tradehook.db".into(),
            busy_timeout_ms: 5000,
        }
    }
}

/// Where orders go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Simulated placement; nothing reaches Kraken's private API.
    #[default]
    Paper,
    /// Real Kraken `AddOrder` with `validate=true`: checked, never placed.
    Validate,
    /// Real orders.
    Live,
}

/// Kraken account verification tier, which sets its rate-limit counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Starter,
    Intermediate,
    Pro,
}

/// `[exchange]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeConfig {
    pub mode: Mode,
    /// Base URL of Kraken's REST API.
    pub kraken_url: String,
    /// Seconds from sending until Kraken's matching engine must refuse the order (2–60).
    pub deadline_secs: u64,
    /// Kraken API key (also `KRAKEN_API_KEY` / `KRAKEN_API_KEY_FILE`).
    pub api_key: Option<Secret>,
    /// Kraken API secret, base64 (also `KRAKEN_API_SECRET` / `KRAKEN_API_SECRET_FILE`).
    pub api_secret: Option<Secret>,
    /// Resend an order that provably never reached Kraken, if the signal is still fresh.
    pub resend_expired: bool,
    /// Rate-limit tier of the Kraken account.
    pub tier: Tier,
    /// In paper mode, quote Kraken's public prices and pairs whenever Kraken is
    /// reachable (no key needed); off, paper mode stays offline with its built-in
    /// pair table and no prices.
    pub paper_market_data: bool,
    /// Paper mode: the fee charged on every simulated fill, in percent of its cost,
    /// in the quote currency (default Kraken's taker fee, 0.40).
    pub paper_fee_pct: Decimal,
    /// Paper mode: the simulated starting balances (`USD = "10000"`, `XBT = "0.5"`, or
    /// Kraken's ids `ZUSD`, `XXBT`), used by `percent` sizing and the position rule;
    /// fills move them.
    pub paper_balances: BTreeMap<String, Decimal>,
    /// Kraken's authenticated WebSocket v2 endpoint, for the `executions` feed.
    pub kraken_ws_url: String,
    /// Live mode: follow fills and cancels on the `executions` channel (on by
    /// default); off, orders stay `placed` as far as tradehook knows.
    pub executions_feed: bool,
    /// How orders reach Kraken: `rest` (`AddOrder`, the default) or `websocket`
    /// (WebSocket v2 `add_order` on `kraken_ws_url`).
    pub transport: Transport,
}

/// `exchange.transport`: how orders are sent to Kraken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// REST `AddOrder`, signed with a nonce.
    #[default]
    Rest,
    /// WebSocket v2 `add_order` with a session token, no nonce.
    Websocket,
}

impl ExchangeConfig {
    /// How far ahead of a send its Kraken `deadline` lies: `deadline_secs`, which
    /// validation keeps within 2–60 s (clamped here too, so it can never overflow).
    pub fn deadline(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.deadline_secs.clamp(2, 60) as i64)
    }

    /// [`ExchangeConfig::deadline`] as a `std` duration.
    pub fn deadline_std(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.deadline_secs.clamp(2, 60))
    }
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            mode: Mode::Paper,
            kraken_url: "https://api.kraken.com".into(),
            deadline_secs: 10,
            api_key: None,
            api_secret: None,
            resend_expired: false,
            tier: Tier::Starter,
            paper_market_data: true,
            paper_fee_pct: Decimal::new(40, 2),
            paper_balances: BTreeMap::new(),
            kraken_ws_url: "wss://ws-auth.kraken.com/v2".into(),
            executions_feed: true,
            transport: Transport::Rest,
        }
    }
}

/// How a source proves a webhook is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// Standard Webhooks HMAC signature headers.
    Hmac,
    /// A passphrase in the body, optionally with an IP allow-list.
    Token,
}

/// `[[sources]]`: one signal platform allowed to post signals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The `{source}` of `POST /v1/signals/{source}`.
    pub name: String,
    pub auth: AuthKind,
    /// `whsec_…` for `hmac`; the passphrase for `token`.
    pub secret: Option<Secret>,
    /// A file holding `secret` (Docker secrets), instead of `secret`.
    pub secret_file: Option<PathBuf>,
    /// For `token` sources: client addresses allowed to post (CIDRs); empty allows any.
    #[serde(default)]
    pub allowed_ips: Vec<IpNet>,
    /// Narrows `risk.allowed_pairs` for this source.
    pub allowed_pairs: Option<Vec<String>>,
    /// Narrows `risk.allowed_order_types` for this source.
    pub allowed_order_types: Option<Vec<OrderType>>,
    /// Orders this source may have accepted in any rolling 60 s.
    pub max_orders_per_minute: Option<u32>,
    /// The body's shape: `tradehook` (default), `tradingview`, `3commas` or `octobot`.
    #[serde(default)]
    pub format: crate::formats::Format,
    /// Authenticated signals this source may post per minute before `429`; unset
    /// (the default) never refuses a valid signal for its rate.
    #[serde(default)]
    pub max_signals_per_minute: Option<u32>,
    /// Accept only requests whose TLS client certificate proves who sent them.
    #[serde(default)]
    pub require_client_cert: Option<ClientCertIssuer>,
}

/// Whose client certificate a source requires (`require_client_cert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertIssuer {
    /// `O=TradingView, Inc., CN=TradingView Webhooks`, chaining to a public root.
    Tradingview,
}

/// A limit given either once for all pairs or as a table by pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerPair {
    All(Decimal),
    ByPair(BTreeMap<String, Decimal>),
}

impl PerPair {
    /// The limit for `pair` (an altname), if any.
    pub fn for_pair(&self, pair: &str) -> Option<Decimal> {
        match self {
            PerPair::All(limit) => Some(*limit),
            PerPair::ByPair(table) => table.get(pair).copied(),
        }
    }
}

/// `[risk]`: the operator's limits (SPEC §6). A limit left unset does not apply,
/// except `allowed_pairs`: no pair listed, no pair allowed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    pub allowed_pairs: Vec<String>,
    /// Default: `market` and `limit`.
    pub allowed_order_types: Option<Vec<OrderType>>,
    /// Largest volume per order, by pair.
    pub max_order_volume: BTreeMap<String, Decimal>,
    /// Largest volume × price per order, in quote currency.
    pub max_order_notional: Option<PerPair>,
    pub max_orders_per_minute: Option<u32>,
    pub max_orders_per_minute_per_pair: Option<u32>,
    /// Largest accepted notional per UTC day, in quote currency.
    pub max_daily_notional: Option<Decimal>,
    /// Largest balance per base asset (`XBT = "0.5"`) a buy may lead to.
    pub max_position: BTreeMap<String, Decimal>,
    /// Largest distance, in percent, of a limit or reference price from the last trade.
    pub price_band_pct: Option<Decimal>,
    pub max_signal_age_secs: Option<u64>,
    pub allow_leverage: bool,
    /// Halt after this many exchange failures in a row.
    pub max_consecutive_exchange_failures: Option<u32>,
    /// Use a signal's `reference_price` for notional when no ticker price is at hand.
    pub trust_reference_price: bool,
    /// On `POST /v1/admin/halt`, also cancel every order still open on the exchange
    /// (`placed`, `partially_filled`), each recorded `canceled` by the kill switch.
    pub cancel_open_orders_on_halt: bool,
}

impl Config {
    /// Loads from `path` (if given) and the environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    key.contains("__") && !key.ends_with("_file")
                })
                .split("__"),
        );
        for (key, value) in secret_files_from_env()? {
            figment = figment.merge(Serialized::default(&key, value));
        }
        let mut config: Config = figment
            .extract()
            .map_err(|err| ConfigError::Load(describe_figment_error(err)))?;
        config.read_source_secret_files()?;
        crate::notify::config::read_secret_files(&mut config.notify)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a TOML document alone: no environment, no secret files
    /// (what the fuzz and property tests feed arbitrary text to).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|err| ConfigError::Load(describe_figment_error(err)))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads `secret_file` of each source into `secret`.
    fn read_source_secret_files(&mut self) -> Result<(), ConfigError> {
        for (i, source) in self.sources.iter_mut().enumerate() {
            if let Some(path) = &source.secret_file {
                if source.secret.is_some() {
                    return Err(invalid(
                        format!("sources[{i}].secret_file"),
                        "set either secret or secret_file, not both",
                    ));
                }
                let value = read_secret_file(path)
                    .map_err(|msg| invalid(format!("sources[{i}].secret_file"), msg))?;
                source.secret = Some(Secret::new(value));
            }
        }
        Ok(())
    }

    /// The effective configuration as TOML, every secret replaced by a placeholder.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|err| format!("# could not render the configuration: {err}\n"))
    }

    /// The source named `name`, if configured.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|source| source.name == name)
    }
}
