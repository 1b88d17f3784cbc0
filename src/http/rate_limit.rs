//! The ingress rate limit: a token bucket per client address on the signal endpoint,
//! so a flood from one address is answered `429` before it costs a database write.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Addresses remembered before idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Per-address limiter; cheap to clone.
#[derive(Clone)]
pub struct IngressLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl IngressLimiter {
    /// Allows `per_minute` signals per address, in bursts of up to a tenth of that
    /// (at least 5); `None` disables the limit.
    pub fn new(per_minute: Option<u32>) -> Self {
        let limiter = per_minute.and_then(NonZeroU32::new).map(|rate| {
            let burst = NonZeroU32::new((rate.get() / 10).max(5)).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))
        });
        IngressLimiter { limiter }
    }

    /// Whether `client` may send another signal now.
    pub fn allow(&self, client: IpAddr) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        limiter.check_key(&client).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_allowance_is_refused_per_address() {
        let limiter = IngressLimiter::new(Some(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..20).filter(|_| limiter.allow(a)).count();
        assert_eq!(allowed, 6, "burst of 6 (a tenth of 60, at least 5)");
        assert!(limiter.allow(b), "another address has its own bucket");
    }

    #[test]
    fn no_limit_allows_everything() {
        let limiter = IngressLimiter::new(None);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.allow(a)));
    }
}
