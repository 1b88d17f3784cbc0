//! The circuit breaker's decisions, pure. The executor and the store's writer own the
//! loop:
//!
//! 1. After each order reaches its final exchange outcome, the executor classifies it
//!    with [`effect`]: a success resets the count, a failure increments it, in the
//!    writer's batch that records the outcome (`store::transition`).
//! 2. If [`trips`] says so for the new count, the writer halts trading with a reason
//!    naming the breaker and the last error (in that batch too) and logs it at `error`
//!    level. From then on every signal is refused by the `halt` rule until an operator
//!    resumes.

use crate::config::RiskConfig;
use crate::exchange::AttemptOutcome;

/// What an exchange outcome does to the consecutive-failure count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The exchange took the order: the count goes back to zero.
    Reset,
    /// The exchange refused, the deadline elapsed, or the outcome is ambiguous.
    Failure,
    /// Not an outcome yet (will be retried): the count is left alone.
    None,
}

/// How an attempt's outcome counts toward the breaker.
///
/// Definitive refusals (funds, permissions, `EGeneral:Temporary lockout`), elapsed
/// deadlines and ambiguous answers all count: N in a row mean the exchange, the key
/// or the strategy is in trouble. Retryable answers count only once the executor gives
/// up on the order (it then passes the final `Failure`).
pub fn effect(outcome: &AttemptOutcome) -> Effect {
    match outcome {
        AttemptOutcome::Placed { .. } | AttemptOutcome::Validated => Effect::Reset,
        AttemptOutcome::Refused { .. }
        | AttemptOutcome::DeadlineElapsed { .. }
        | AttemptOutcome::Ambiguous { .. } => Effect::Failure,
        AttemptOutcome::RetryLater { .. } | AttemptOutcome::NotSent { .. } => Effect::None,
    }
}

/// Whether `consecutive_failures` exchange failures in a row must halt trading: when
/// `risk.max_consecutive_exchange_failures` is set and the count has reached it. With
/// the setting absent the breaker never trips.
pub fn should_trip(consecutive_failures: u32, config: &RiskConfig) -> bool {
    trips(
        consecutive_failures,
        config.max_consecutive_exchange_failures,
    )
}

/// [`should_trip`] with the limit alone (`None`: the breaker never trips).
pub fn trips(consecutive_failures: u32, limit: Option<u32>) -> bool {
    limit.is_some_and(|limit| consecutive_failures >= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_trips_at_the_limit_and_not_before() {
        let config = RiskConfig {
            max_consecutive_exchange_failures: Some(3),
            ..RiskConfig::default()
        };
        assert!(!should_trip(0, &config));
        assert!(!should_trip(2, &config));
        assert!(should_trip(3, &config));
        assert!(should_trip(4, &config));
    }

    #[test]
    fn an_unconfigured_breaker_never_trips() {
        assert!(!should_trip(u32::MAX, &RiskConfig::default()));
    }

    #[test]
    fn only_final_failures_count() {
        let refused = AttemptOutcome::Refused {
            error: "EGeneral:Temporary lockout".into(),
        };
        assert_eq!(effect(&refused), Effect::Failure);
        let ambiguous = AttemptOutcome::Ambiguous {
            reason: "timeout".into(),
        };
        assert_eq!(effect(&ambiguous), Effect::Failure);
        let placed = AttemptOutcome::Placed { txid: "T".into() };
        assert_eq!(effect(&placed), Effect::Reset);
        let retry = AttemptOutcome::RetryLater {
            error: "EAPI:Rate limit exceeded".into(),
            retry_after: None,
        };
        assert_eq!(effect(&retry), Effect::None);
    }
}
