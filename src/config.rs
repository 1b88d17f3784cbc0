//! Configuration: a TOML file, overridden by `TRADEHOOK_<SECTION>__<KEY>` environment
//! variables, with secrets also readable from `<VAR>_FILE` (Docker secrets).
//!
//! Every key has a safe default (paper mode, loopback, a local SQLite file), so the
//! service runs with no file at all. A bad value stops start-up with a message naming
//! the key; `tradehook check-config` prints the effective config with secrets redacted.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::signal::{normalize_pair, OrderType};

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
    /// Signals accepted per minute from one client address; unset disables.
    pub rate_limit_per_minute: Option<u32>,
}

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
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that the types alone cannot, naming the key at fault.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_exchange()?;
        self.validate_sources()?;
        self.validate_risk()
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.tls_cert.is_some() != server.tls_key.is_some() {
            return Err(invalid(
                "server.tls_cert",
                "tls_cert and tls_key must be set together",
            ));
        }
        if server.tls_cert.is_some() {
            return Err(invalid(
                "server.tls_cert",
                "built-in HTTPS is not available in this version; terminate TLS in a proxy \
                 and set server.behind_tls_proxy = true",
            ));
        }
        if !server.listen.ip().is_loopback() && !server.behind_tls_proxy {
            return Err(invalid(
                "server.listen",
                format!(
                    "{} is not a loopback address; signals and tokens must not cross a \
                     network in clear text: put a TLS proxy in front and set \
                     server.behind_tls_proxy = true",
                    server.listen
                ),
            ));
        }
        if !(256..=1024 * 1024).contains(&server.body_limit_bytes) {
            return Err(invalid(
                "server.body_limit_bytes",
                "must be between 256 and 1048576",
            ));
        }
        for (key, token) in [
            ("server.audit_token", &server.audit_token),
            ("server.admin_token", &server.admin_token),
        ] {
            if let Some(token) = token {
                if token.expose().len() < 16 {
                    return Err(invalid(key, "must be at least 16 characters"));
                }
            }
        }
        if server.max_wait_secs > 30 {
            return Err(invalid("server.max_wait_secs", "at most 30"));
        }
        Ok(())
    }

    fn validate_exchange(&self) -> Result<(), ConfigError> {
        let exchange = &self.exchange;
        if !(2..=60).contains(&exchange.deadline_secs) {
            return Err(invalid(
                "exchange.deadline_secs",
                "must be between 2 and 60 seconds",
            ));
        }
        let url = reqwest::Url::parse(&exchange.kraken_url)
            .map_err(|err| invalid("exchange.kraken_url", err.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("exchange.kraken_url", "must be an http(s) URL"));
        }
        if exchange.mode != Mode::Paper {
            let key = exchange.api_key.as_ref().ok_or_else(|| {
                invalid(
                    "exchange.api_key",
                    "required in validate and live mode (set KRAKEN_API_KEY)",
                )
            })?;
            if key.expose().trim().is_empty() {
                return Err(invalid("exchange.api_key", "is empty"));
            }
            let secret = exchange.api_secret.as_ref().ok_or_else(|| {
                invalid(
                    "exchange.api_secret",
                    "required in validate and live mode (set KRAKEN_API_SECRET)",
                )
            })?;
            if base64::engine::general_purpose::STANDARD
                .decode(secret.expose().trim())
                .is_err()
            {
                return Err(invalid("exchange.api_secret", "is not valid base64"));
            }
        }
        Ok(())
    }

    fn validate_sources(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let key = |field: &str| format!("sources[{i}].{field}");
            let valid_name = !source.name.is_empty()
                && source.name.len() <= 64
                && source
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                return Err(invalid(
                    key("name"),
                    "1-64 characters of letters, digits, '-' and '_'",
                ));
            }
            if !names.insert(source.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!("`{}` is defined twice", source.name),
                ));
            }
            let secret = source
                .secret
                .as_ref()
                .ok_or_else(|| invalid(key("secret"), "required"))?;
            match source.auth {
                AuthKind::Hmac => {
                    crate::ingress::standard_webhooks::decode_secret(secret.expose())
                        .map_err(|msg| invalid(key("secret"), msg))?;
                    if !source.allowed_ips.is_empty() {
                        return Err(invalid(
                            key("allowed_ips"),
                            "only applies to `token` sources",
                        ));
                    }
                }
                AuthKind::Token => {
                    if secret.expose().len() < 16 {
                        return Err(invalid(key("secret"), "must be at least 16 characters"));
                    }
                }
            }
            if let Some(pairs) = &source.allowed_pairs {
                normalize_pairs(&key("allowed_pairs"), pairs)?;
            }
        }
        Ok(())
    }

    fn validate_risk(&mut self) -> Result<(), ConfigError> {
        self.risk.allowed_pairs = normalize_pairs("risk.allowed_pairs", &self.risk.allowed_pairs)?;
        for source in &mut self.sources {
            if let Some(pairs) = &source.allowed_pairs {
                source.allowed_pairs = Some(normalize_pairs("sources.allowed_pairs", pairs)?);
            }
        }
        let risk = &self.risk;
        let positive = |key: &str, value: Decimal| {
            if value <= Decimal::ZERO {
                Err(invalid(key, "must be greater than zero"))
            } else {
                Ok(())
            }
        };
        for (pair, limit) in &risk.max_order_volume {
            positive(&format!("risk.max_order_volume.{pair}"), *limit)?;
        }
        match &risk.max_order_notional {
            Some(PerPair::All(limit)) => positive("risk.max_order_notional", *limit)?,
            Some(PerPair::ByPair(table)) => {
                for (pair, limit) in table {
                    positive(&format!("risk.max_order_notional.{pair}"), *limit)?;
                }
            }
            None => {}
        }
        if let Some(limit) = risk.max_daily_notional {
            positive("risk.max_daily_notional", limit)?;
        }
        for (asset, limit) in &risk.max_position {
            if *limit < Decimal::ZERO {
                return Err(invalid(
                    format!("risk.max_position.{asset}"),
                    "must not be negative",
                ));
            }
        }
        if let Some(pct) = risk.price_band_pct {
            positive("risk.price_band_pct", pct)?;
        }
        if risk.max_consecutive_exchange_failures == Some(0) {
            return Err(invalid(
                "risk.max_consecutive_exchange_failures",
                "must be at least 1",
            ));
        }
        Ok(())
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

fn normalize_pairs(key: &str, pairs: &[String]) -> Result<Vec<String>, ConfigError> {
    pairs
        .iter()
        .map(|pair| normalize_pair(pair).map_err(|err| invalid(key, err.message)))
        .collect()
}

/// Reads a secret file, dropping the trailing newline editors add.
fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Collects `TRADEHOOK_<SECTION>__<KEY>_FILE` and `KRAKEN_API_{KEY,SECRET}[_FILE]` as
/// dotted config keys with the secret values.
fn secret_files_from_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut values = Vec::new();
    for (name, value) in std::env::vars() {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some(rest) = rest.strip_suffix("_FILE") else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let secret = read_secret_file(Path::new(&value)).map_err(|msg| invalid(&name, msg))?;
        values.push((key, secret));
    }
    for (var, key) in [
        ("KRAKEN_API_KEY", "exchange.api_key"),
        ("KRAKEN_API_SECRET", "exchange.api_secret"),
    ] {
        if let Ok(path) = std::env::var(format!("{var}_FILE")) {
            let secret = read_secret_file(Path::new(&path))
                .map_err(|msg| invalid(format!("{var}_FILE"), msg))?;
            values.push((key.to_owned(), secret));
        } else if let Ok(secret) = std::env::var(var) {
            values.push((key.to_owned(), secret));
        }
    }
    Ok(values)
}

/// Figment's message plus where the value came from, never the value itself (it may
/// be a secret).
fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!(" (key `{}`)", e.path.join("."))
            };
            let origin = e
                .metadata
                .as_ref()
                .map(|m| format!(" in {}", m.name))
                .unwrap_or_default();
            // The actual value is left out: it may be a secret typed wrongly.
            let kind = match &e.kind {
                figment::error::Kind::InvalidType(_, expected) => {
                    format!("invalid type: expected {expected}")
                }
                figment::error::Kind::InvalidValue(_, expected) => {
                    format!("invalid value: expected {expected}")
                }
                other => other.to_string(),
            };
            format!("{kind}{key}{origin}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Config, ConfigError> {
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(|err| ConfigError::Load(describe_figment_error(err)))?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn empty_config_is_paper_mode_on_loopback() {
        let config = parse("").unwrap();
        assert_eq!(config.exchange.mode, Mode::Paper);
        assert!(config.server.listen.ip().is_loopback());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[server]\nlisten_addr = \"127.0.0.1:1\"").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn a_mistyped_secret_is_not_echoed_in_the_error() {
        let err = parse("[server]\nadmin_token = 987654321987654321").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("server.admin_token"), "{text}");
        assert!(!text.contains("987654321987654321"), "{text}");
    }

    #[test]
    fn bad_deadline_is_named() {
        let err = parse("[exchange]\ndeadline_secs = 90").unwrap_err();
        assert!(err.to_string().contains("exchange.deadline_secs"), "{err}");
    }

    #[test]
    fn live_mode_without_credentials_is_refused() {
        let err = parse("[exchange]\nmode = \"live\"").unwrap_err();
        assert!(err.to_string().contains("exchange.api_key"), "{err}");
    }

    #[test]
    fn public_listen_without_tls_is_refused() {
        let err = parse("[server]\nlisten = \"0.0.0.0:8080\"").unwrap_err();
        assert!(err.to_string().contains("server.listen"), "{err}");
        parse("[server]\nlisten = \"0.0.0.0:8080\"\nbehind_tls_proxy = true").unwrap();
    }

    #[test]
    fn hmac_source_needs_a_whsec_secret() {
        let err =
            parse("[[sources]]\nname = \"a\"\nauth = \"hmac\"\nsecret = \"plain\"").unwrap_err();
        assert!(err.to_string().contains("sources[0].secret"), "{err}");
    }

    #[test]
    fn notional_takes_one_value_or_a_table() {
        let one = parse("[risk]\nmax_order_notional = \"1000\"").unwrap();
        assert_eq!(
            one.risk.max_order_notional.unwrap().for_pair("XBTUSD"),
            Some(Decimal::from(1000))
        );
        let table = parse("[risk.max_order_notional]\nXBTUSD = \"50\"").unwrap();
        let table = table.risk.max_order_notional.unwrap();
        assert_eq!(table.for_pair("XBTUSD"), Some(Decimal::from(50)));
        assert_eq!(table.for_pair("ETHUSD"), None);
    }

    #[test]
    fn redacted_output_hides_secrets() {
        let config = parse(
            "[server]\naudit_token = \"audit-token-0123456789\"\n\
             [[sources]]\nname = \"a\"\nauth = \"token\"\nsecret = \"passphrase-0123456789\"",
        )
        .unwrap();
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("audit-token-0123456789"));
        assert!(!shown.contains("passphrase-0123456789"));
        assert!(shown.contains(crate::secret::REDACTED));
    }

    #[test]
    fn pairs_are_normalised() {
        let config = parse("[risk]\nallowed_pairs = [\"xbt/usd\"]").unwrap();
        assert_eq!(config.risk.allowed_pairs, vec!["XBTUSD"]);
    }
}
