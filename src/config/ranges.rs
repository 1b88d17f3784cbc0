//! Range checks of every whole-number configuration key, in one table.
//!
//! A value outside its range is refused at start-up with a message naming the key, so
//! no later arithmetic meets it: a `risk.max_signal_age_secs` of 10^16 once panicked
//! every signal (chrono's durations end at `i64::MAX` milliseconds, about 9.2 × 10^15
//! seconds), and a `database.busy_timeout_ms` near `u64::MAX` would overflow the
//! connection pool's `Instant + timeout`. The bounds are generous: each is far beyond
//! any useful setting and far inside what the code using it can compute with. (The
//! code also computes without panicking on its own; this is the first line.)

use std::ops::RangeInclusive;

use super::{invalid, Config, ConfigError};

/// Limits of per-minute rates: a million a minute is beyond any exchange's limit.
const PER_MINUTE: RangeInclusive<u64> = 0..=1_000_000;

/// One key, its value if set, and the values it may take.
type Check = (String, Option<u64>, RangeInclusive<u64>);

fn check((key, value, range): Check) -> Result<(), ConfigError> {
    match value {
        Some(value) if !range.contains(&value) => Err(invalid(
            key,
            format!(
                "must be between {} and {}, not {value}",
                range.start(),
                range.end()
            ),
        )),
        _ => Ok(()),
    }
}

/// A `usize` setting as `u64`; beyond `u64` it is out of every range anyway.
fn wide(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

impl Config {
    /// Every whole-number key with its range. A new numeric key belongs here.
    fn numeric_keys(&self) -> Vec<Check> {
        let (server, risk) = (&self.server, &self.risk);
        let mut keys: Vec<Check> = vec![
            (
                "server.body_limit_bytes".into(),
                Some(wide(server.body_limit_bytes)),
                256..=1024 * 1024,
            ),
            (
                "server.max_wait_secs".into(),
                Some(server.max_wait_secs),
                0..=30,
            ),
            // 0 turns the per-address limit off (the README says so).
            (
                "server.rate_limit_per_minute".into(),
                server.rate_limit_per_minute.map(u64::from),
                0..=*PER_MINUTE.end(),
            ),
            (
                "server.header_timeout_secs".into(),
                Some(server.header_timeout_secs),
                1..=300,
            ),
            (
                "server.request_timeout_secs".into(),
                Some(server.request_timeout_secs),
                1..=600,
            ),
            (
                "server.max_connections".into(),
                Some(server.max_connections),
                1..=1_000_000,
            ),
            (
                "server.max_connections_per_ip".into(),
                Some(server.max_connections_per_ip),
                1..=1_000_000,
            ),
            (
                "server.tls_reload_secs".into(),
                Some(server.tls_reload_secs),
                1..=86_400,
            ),
            (
                "database.busy_timeout_ms".into(),
                Some(self.database.busy_timeout_ms),
                1..=60_000,
            ),
            (
                "exchange.deadline_secs".into(),
                Some(self.exchange.deadline_secs),
                2..=60,
            ),
            // 0 is a limit too: that window accepts nothing (a paused source).
            (
                "risk.max_orders_per_minute".into(),
                risk.max_orders_per_minute.map(u64::from),
                PER_MINUTE,
            ),
            (
                "risk.max_orders_per_minute_per_pair".into(),
                risk.max_orders_per_minute_per_pair.map(u64::from),
                PER_MINUTE,
            ),
            // A week: a signal older than that is history, not a signal.
            (
                "risk.max_signal_age_secs".into(),
                risk.max_signal_age_secs,
                1..=7 * 24 * 3600,
            ),
            (
                "risk.max_consecutive_exchange_failures".into(),
                risk.max_consecutive_exchange_failures.map(u64::from),
                1..=1_000_000,
            ),
        ];
        for (i, source) in self.sources.iter().enumerate() {
            keys.push((
                format!("sources[{i}].max_orders_per_minute"),
                source.max_orders_per_minute.map(u64::from),
                PER_MINUTE,
            ));
            keys.push((
                format!("sources[{i}].max_signals_per_minute"),
                source.max_signals_per_minute.map(u64::from),
                PER_MINUTE,
            ));
        }
        keys
    }

    /// Refuses the first whole-number key outside its range, naming it.
    pub(super) fn validate_ranges(&self) -> Result<(), ConfigError> {
        self.numeric_keys().into_iter().try_for_each(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a default configuration.
    type Adjust = Box<dyn FnOnce(&mut Config)>;

    fn refused(adjust: impl FnOnce(&mut Config)) -> String {
        let mut config = Config::default();
        adjust(&mut config);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn every_numeric_key_out_of_range_is_refused_by_name() {
        let cases: Vec<(&str, Adjust)> = vec![
            (
                "server.body_limit_bytes",
                Box::new(|c| c.server.body_limit_bytes = usize::MAX),
            ),
            (
                "server.max_wait_secs",
                Box::new(|c| c.server.max_wait_secs = 31),
            ),
            (
                "server.rate_limit_per_minute",
                Box::new(|c| c.server.rate_limit_per_minute = Some(1_000_001)),
            ),
            (
                "database.busy_timeout_ms",
                Box::new(|c| c.database.busy_timeout_ms = u64::MAX),
            ),
            (
                "server.header_timeout_secs",
                Box::new(|c| c.server.header_timeout_secs = 0),
            ),
            (
                "server.request_timeout_secs",
                Box::new(|c| c.server.request_timeout_secs = 601),
            ),
            (
                "server.max_connections",
                Box::new(|c| c.server.max_connections = 0),
            ),
            (
                "server.max_connections_per_ip",
                Box::new(|c| c.server.max_connections_per_ip = u64::MAX),
            ),
            (
                "server.tls_reload_secs",
                Box::new(|c| c.server.tls_reload_secs = 0),
            ),
            (
                "exchange.deadline_secs",
                Box::new(|c| c.exchange.deadline_secs = 1),
            ),
            (
                "risk.max_orders_per_minute",
                Box::new(|c| c.risk.max_orders_per_minute = Some(u32::MAX)),
            ),
            (
                "risk.max_orders_per_minute_per_pair",
                Box::new(|c| c.risk.max_orders_per_minute_per_pair = Some(1_000_001)),
            ),
            (
                "risk.max_signal_age_secs",
                Box::new(|c| c.risk.max_signal_age_secs = Some(u64::MAX)),
            ),
            (
                "risk.max_signal_age_secs",
                Box::new(|c| c.risk.max_signal_age_secs = Some(0)),
            ),
            (
                "risk.max_consecutive_exchange_failures",
                Box::new(|c| c.risk.max_consecutive_exchange_failures = Some(0)),
            ),
        ];
        for (key, adjust) in cases {
            let message = refused(adjust);
            assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
            assert!(message.contains("must be between"), "{key}: {message}");
        }
    }

    #[test]
    fn a_source_rate_out_of_range_names_the_source_entry() {
        let message = refused(|c| {
            c.sources.push(crate::config::SourceConfig {
                name: "tv".into(),
                auth: crate::config::AuthKind::Token,
                secret: Some(crate::secret::Secret::new("passphrase-0123456789")),
                secret_file: None,
                allowed_ips: vec![],
                allowed_pairs: None,
                allowed_order_types: None,
                max_orders_per_minute: Some(2_000_000),
                require_client_cert: None,
                format: Default::default(),
                max_signals_per_minute: None,
            })
        });
        assert!(
            message.contains("`sources[0].max_orders_per_minute`"),
            "{message}"
        );
    }

    #[test]
    fn the_edges_of_every_range_are_accepted() {
        let mut config = Config::default();
        config.server.max_wait_secs = 0;
        config.database.busy_timeout_ms = 60_000;
        config.risk.max_orders_per_minute = Some(0);
        config.risk.max_signal_age_secs = Some(7 * 24 * 3600);
        config.risk.max_consecutive_exchange_failures = Some(1);
        config.validate().unwrap();
    }
}
