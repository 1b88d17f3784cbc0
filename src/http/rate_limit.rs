//! Ingress limits that never refuse a valid signal by default.
//!
//! - Requests that fail authentication (forged signatures, wrong or missing secrets,
//!   unknown sources) are counted per client address; past the allowance
//!   (`server.rate_limit_per_minute`) such requests are answered `429` instead of
//!   `401`, with `Retry-After` (whole seconds until the address may fail again). The
//!   count is taken *after* authentication, so a valid signal from a busy or attacked
//!   address is never refused or delayed by it.
//! - An authenticated source may opt into its own allowance
//!   (`[[sources]] max_signals_per_minute`, off by default); past it a signal is
//!   answered `429` with `Retry-After`, counted and logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;

/// Addresses remembered before idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

/// The ingress limits; cheap to clone.
#[derive(Clone, Default)]
pub struct IngressLimiter {
    /// Failed-authentication allowance per client address.
    failures: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Opt-in allowance per source name.
    sources: Arc<HashMap<String, DefaultDirectRateLimiter>>,
}

impl IngressLimiter {
    /// Allows `per_minute` failed-authentication requests per address, in bursts of up
    /// to a tenth of that (at least 5); `None` or `0` disables the limit. No source has
    /// a limit of its own.
    pub fn new(per_minute: Option<u32>) -> Self {
        let failures = per_minute.and_then(NonZeroU32::new).map(|rate| {
            let burst = NonZeroU32::new((rate.get() / 10).max(5)).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))
        });
        IngressLimiter {
            failures,
            sources: Arc::default(),
        }
    }

    /// The limits `config` asks for: the failure allowance of `[server]` and each
    /// source's `max_signals_per_minute` (a burst of the whole minute's allowance).
    pub fn from_config(config: &Config) -> Self {
        let mut limiter = Self::new(config.server.rate_limit_per_minute);
        let sources = config
            .sources
            .iter()
            .filter_map(|source| {
                let rate = NonZeroU32::new(source.max_signals_per_minute?)?;
                Some((
                    source.name.clone(),
                    RateLimiter::direct(Quota::per_minute(rate)),
                ))
            })
            .collect();
        limiter.sources = Arc::new(sources);
        limiter
    }

    /// Counts a failed authentication from `client`: `Ok` when it may still be
    /// answered `401`, else (the address is over its allowance: answer `429`) how long
    /// until the allowance has room again.
    pub fn allow_failure(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.failures else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Counts an authenticated signal of `source`: `Ok` when it may proceed, else how
    /// long until the source's allowance has room again.
    pub fn allow_signal(&self, source: &str) -> Result<(), Duration> {
        let Some(limiter) = self.sources.get(source) else {
            return Ok(());
        };
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// A wait as a `Retry-After` value: whole seconds, rounded up, at least 1 (`0` would
/// invite an immediate retry that the limit refuses again).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthKind, SourceConfig};

    #[test]
    fn failures_beyond_the_allowance_are_refused_per_address() {
        let limiter = IngressLimiter::new(Some(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..20).filter(|_| limiter.allow_failure(a).is_ok()).count();
        assert_eq!(allowed, 6, "burst of 6 (a tenth of 60, at least 5)");
        let wait = limiter.allow_failure(a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "one failure a second: {wait:?}"
        );
        assert!(
            limiter.allow_failure(b).is_ok(),
            "another address has its own bucket"
        );
    }

    #[test]
    fn a_retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
    }

    #[test]
    fn no_limit_or_zero_allows_every_failure() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for limiter in [IngressLimiter::new(None), IngressLimiter::new(Some(0))] {
            assert!((0..1000).all(|_| limiter.allow_failure(a).is_ok()));
        }
    }

    fn source(name: &str, per_minute: Option<u32>) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            auth: AuthKind::Token,
            secret: None,
            secret_file: None,
            allowed_ips: vec![],
            allowed_pairs: None,
            allowed_order_types: None,
            max_orders_per_minute: None,
            format: Default::default(),
            max_signals_per_minute: per_minute,
            require_client_cert: None,
        }
    }

    #[test]
    fn a_source_without_its_own_limit_is_never_refused() {
        let config = Config {
            sources: vec![source("free", None), source("capped", Some(3))],
            ..Config::default()
        };
        let limiter = IngressLimiter::from_config(&config);
        assert!((0..1000).all(|_| limiter.allow_signal("free").is_ok()));
        assert_eq!(
            (0..10)
                .filter(|_| limiter.allow_signal("capped").is_ok())
                .count(),
            3
        );
        let wait = limiter.allow_signal("capped").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
    }
}
