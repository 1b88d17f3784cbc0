//! Validation of a loaded configuration: every check the types alone cannot make, each
//! failure naming the key at fault.

use std::collections::HashSet;

use base64::Engine as _;
use rust_decimal::Decimal;

use super::{invalid, AuthKind, Config, ConfigError, Mode, PerPair};
use crate::signal::normalize_pair;

impl Config {
    /// Checks every value that the types alone cannot, naming the key at fault.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.validate_ranges()?;
        self.validate_server()?;
        self.validate_exchange()?;
        self.validate_sources()?;
        crate::notify::config::validate(&self.notify, &self.notifications, &self.sources)?;
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
        let tls = server.tls_cert.is_some() || !server.acme_domains.is_empty();
        if server.tls_cert.is_some() && !server.acme_domains.is_empty() {
            return Err(invalid(
                "server.acme_domains",
                "set either tls_cert/tls_key or acme_domains, not both",
            ));
        }
        self.validate_acme()?;
        // Signals and tokens must never cross a network in clear text: off loopback,
        // tradehook terminates TLS itself or a TLS proxy does it in front.
        if !server.listen.ip().is_loopback() && !tls && !server.behind_tls_proxy {
            return Err(invalid(
                "server.listen",
                format!(
                    "{} is not a loopback address; signals and tokens must not cross a \
                     network in clear text: set server.tls_cert and server.tls_key (or \
                     server.acme_domains), or put a TLS proxy in front and set \
                     server.behind_tls_proxy = true",
                    server.listen
                ),
            ));
        }
        if server.redirect_http.is_some() && !tls {
            return Err(invalid(
                "server.redirect_http",
                "redirects to HTTPS, so it needs tls_cert/tls_key or acme_domains",
            ));
        }
        for (i, source) in self.sources.iter().enumerate() {
            if source.require_client_cert.is_some() && !tls {
                return Err(invalid(
                    format!("sources[{i}].require_client_cert"),
                    "a client certificate is only seen when tradehook terminates TLS: \
                     set server.tls_cert/tls_key or server.acme_domains",
                ));
            }
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
        Ok(())
    }

    fn validate_acme(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.acme_domains.is_empty() {
            return Ok(());
        }
        for domain in &server.acme_domains {
            let valid = !domain.is_empty()
                && domain.len() <= 253
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid {
                return Err(invalid(
                    "server.acme_domains",
                    format!("{domain:?} is not a DNS name"),
                ));
            }
        }
        if let Some(email) = &server.acme_email {
            if !email.contains('@') || email.chars().any(char::is_whitespace) {
                return Err(invalid("server.acme_email", "is not an e-mail address"));
            }
        }
        let url = reqwest::Url::parse(&server.acme_directory)
            .map_err(|err| invalid("server.acme_directory", err.to_string()))?;
        if url.scheme() != "https" {
            return Err(invalid("server.acme_directory", "must be an https URL"));
        }
        Ok(())
    }

    fn validate_exchange(&self) -> Result<(), ConfigError> {
        let exchange = &self.exchange;
        let url = reqwest::Url::parse(&exchange.kraken_url)
            .map_err(|err| invalid("exchange.kraken_url", err.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("exchange.kraken_url", "must be an http(s) URL"));
        }
        if let Some((asset, _)) = exchange
            .paper_balances
            .iter()
            .find(|(_, amount)| amount.is_sign_negative())
        {
            return Err(invalid(
                format!("exchange.paper_balances.{asset}"),
                "a balance cannot be negative",
            ));
        }
        let ws = reqwest::Url::parse(&exchange.kraken_ws_url)
            .map_err(|err| invalid("exchange.kraken_ws_url", err.to_string()))?;
        if !matches!(ws.scheme(), "ws" | "wss") {
            return Err(invalid("exchange.kraken_ws_url", "must be a ws(s) URL"));
        }
        if exchange.paper_fee_pct.is_sign_negative() || exchange.paper_fee_pct > Decimal::from(10) {
            return Err(invalid(
                "exchange.paper_fee_pct",
                format!("{} is outside 0-10 (percent)", exchange.paper_fee_pct),
            ));
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
            check_name(key("name"), &source.name, &mut names)?;
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
            // 100 % already lets any lower price through; more is a typo.
            if pct > Decimal::ONE_HUNDRED {
                return Err(invalid("risk.price_band_pct", "must be at most 100"));
            }
        }
        Ok(())
    }
}

/// Normalises configured pair names; a spelling the built-in pair table knows
/// (`BTCUSD`, `BTC/USD`) becomes its Kraken altname, as signals' pairs do.
fn normalize_pairs(key: &str, pairs: &[String]) -> Result<Vec<String>, ConfigError> {
    let table = crate::pairs::PairTable::snapshot();
    pairs
        .iter()
        .map(|pair| {
            let normal = normalize_pair(pair).map_err(|err| invalid(key, err.message))?;
            Ok(match crate::formats::pairs::resolve(&table, pair) {
                Ok(crate::formats::pairs::Resolution::Pair(altname)) => altname,
                _ => normal,
            })
        })
        .collect()
}

/// Checks a configured name (a source's, a notification channel's): 1-64 letters,
/// digits, '-' and '_', not used before by another entry of its list (`seen`).
pub(crate) fn check_name<'a>(
    key: String,
    name: &'a str,
    seen: &mut HashSet<&'a str>,
) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(invalid(
            key,
            "1-64 characters of letters, digits, '-' and '_'",
        ));
    }
    if !seen.insert(name) {
        return Err(invalid(key, format!("`{name}` is defined twice")));
    }
    Ok(())
}
