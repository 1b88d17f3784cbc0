//! Staleness: with `max_signal_age_secs` set, a signal must carry `signal_time`, no
//! older than that and no further in the future than a small clock skew. A signal
//! stuck in a queue for minutes trades on a market that has moved on.

use chrono::Duration;

use super::Input;
use crate::risk::Reason;

/// This rule's name in refusals.
pub const RULE: &str = "staleness";

/// How far in the future a `signal_time` may be: clocks of signal platforms drift.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5;

/// `max_signal_age_secs` as a duration. Configuration keeps it within a week; should a
/// larger value still arrive, it saturates at the longest duration rather than panic
/// (`Duration::seconds` panics beyond `i64::MAX` milliseconds, inside the write
/// transaction of every signal).
fn max_age_duration(secs: u64) -> Duration {
    i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::MAX)
}

/// Refuses an old, future or missing `signal_time` when a maximum age is configured,
/// or carried by the signal itself (3Commas `max_lag`): the smaller one applies.
pub fn check(input: &Input<'_>, out: &mut Vec<Reason>) {
    let max_age = match (input.config.max_signal_age_secs, input.signal.max_age_secs) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return,
    };
    let Some(at) = input.signal.signal_time else {
        out.push(Reason::new(
            RULE,
            "signal_time is required while risk.max_signal_age_secs is set",
        ));
        return;
    };
    let age = input.now - at;
    let max = max_age_duration(max_age);
    if age > max {
        out.push(Reason::new(
            RULE,
            format!(
                "signal_time {} is {} ms old, more than the allowed {max_age} s",
                at.to_rfc3339(),
                age.num_milliseconds()
            ),
        ));
    } else if -age > Duration::seconds(MAX_CLOCK_SKEW_SECS) {
        out.push(Reason::new(
            RULE,
            format!(
                "signal_time {} is in the future by more than {MAX_CLOCK_SKEW_SECS} s",
                at.to_rfc3339()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::testkit::{assert_cases, signal, Case};
    use serde_json::json;

    #[test]
    fn any_configured_age_converts_without_panicking() {
        assert_eq!(max_age_duration(30), Duration::seconds(30));
        for huge in [i64::MAX as u64 / 1000 + 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(max_age_duration(huge), Duration::MAX, "{huge}");
        }
    }

    #[test]
    fn a_huge_maximum_age_passes_an_old_signal_instead_of_panicking() {
        let cases: &[Case] = &[(
            "max age beyond chrono's range",
            |s| {
                s.config.max_signal_age_secs = Some(100_000_000_000_000_000);
                s.signal = signal(json!({"signal_time": "2001-01-01T00:00:00Z"}));
            },
            false,
        )];
        assert_cases(RULE, check, cases);
    }

    #[test]
    fn signals_just_inside_the_age_pass_and_just_outside_are_refused() {
        let cases: &[Case] = &[
            ("no limit, no time", |_| {}, false),
            (
                "no limit, an ancient time",
                |s| s.signal = signal(json!({"signal_time": "2001-01-01T00:00:00Z"})),
                false,
            ),
            (
                "limit but no time",
                |s| s.config.max_signal_age_secs = Some(30),
                true,
            ),
            (
                "exactly the maximum age",
                |s| {
                    s.config.max_signal_age_secs = Some(30);
                    s.signal = signal(json!({"signal_time": "2024-05-01T11:59:30Z"}));
                },
                false,
            ),
            (
                "one millisecond older",
                |s| {
                    s.config.max_signal_age_secs = Some(30);
                    s.signal = signal(json!({"signal_time": "2024-05-01T11:59:29.999Z"}));
                },
                true,
            ),
            (
                "five seconds in the future",
                |s| {
                    s.config.max_signal_age_secs = Some(30);
                    s.signal = signal(json!({"signal_time": "2024-05-01T12:00:05Z"}));
                },
                false,
            ),
            (
                "just over five seconds in the future",
                |s| {
                    s.config.max_signal_age_secs = Some(30);
                    s.signal = signal(json!({"signal_time": "2024-05-01T12:00:05.001Z"}));
                },
                true,
            ),
        ];
        assert_cases(RULE, check, cases);
    }
}
