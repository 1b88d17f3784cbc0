//! When to try a failed notification again: exponential backoff with jitter, a
//! channel's `Retry-After` honoured, and when to give up. Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The retry policy, from `[notifications]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Undelivered this long after it was (re)queued: given up.
    pub give_up_after: Duration,
}

impl Backoff {
    /// The delay after the `attempt`-th failed attempt (1-based): `initial × 2^(n-1)`,
    /// capped at `max`, then scaled by `jitter` in `[0, 1)` into its upper half
    /// (`½…1×`), so retries of many notifications spread out but never come early.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)));
        let capped = doubled.min(self.max);
        let factor = 0.5 + jitter.clamp(0.0, 1.0) / 2.0;
        capped.mul_f64(factor).max(self.initial.min(self.max) / 2)
    }

    /// The next try after a failure: `retry_after` when the channel asked for it (and
    /// at least the backoff's), else the backoff delay.
    pub fn next_try(
        &self,
        attempt: u32,
        jitter: f64,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let delay = match retry_after {
            Some(asked) => asked.min(Duration::from_secs(3600)),
            None => self.delay(attempt, jitter),
        };
        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
    }

    /// Whether a notification queued at `since` is too old to try again at `next`.
    pub fn gives_up(&self, since: DateTime<Utc>, next: DateTime<Utc>) -> bool {
        let limit = chrono::Duration::from_std(self.give_up_after).unwrap_or(chrono::Duration::MAX);
        next.signed_duration_since(since) > limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_delay_doubles_from_five_seconds_up_to_ten_minutes() {
        let top = |n| policy().delay(n, 0.999_999);
        assert!(top(1) <= Duration::from_secs(5) && top(1) > Duration::from_millis(4900));
        assert!(top(2) <= Duration::from_secs(10) && top(2) > Duration::from_millis(9900));
        assert!(top(4) <= Duration::from_secs(40) && top(4) > Duration::from_millis(39_000));
        assert!(top(10) <= Duration::from_secs(600));
        assert!(top(1000) <= Duration::from_secs(600) && top(1000) > Duration::from_secs(590));
    }

    #[test]
    fn jitter_keeps_the_delay_within_its_upper_half() {
        for n in 1..12 {
            let low = policy().delay(n, 0.0);
            let high = policy().delay(n, 0.999);
            assert!(low >= high / 2 && low < high, "{n}: {low:?} {high:?}");
        }
    }

    #[test]
    fn retry_after_wins_over_the_backoff() {
        let now = Utc::now();
        let next = policy().next_try(1, 0.5, Some(Duration::from_secs(42)), now);
        assert_eq!(next - now, chrono::Duration::seconds(42));
    }

    #[test]
    fn a_notification_is_given_up_once_its_next_try_is_past_the_age_limit() {
        let since = Utc::now();
        let policy = policy();
        assert!(!policy.gives_up(since, since + chrono::Duration::seconds(3600)));
        assert!(policy.gives_up(since, since + chrono::Duration::seconds(3601)));
    }
}
