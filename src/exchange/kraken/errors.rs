//! Classification of Kraken's error strings into what the executor may do next
//! (SPEC §5 "Outcome classes").
//!
//! Anything not known to be a refusal is treated as ambiguous: the order may exist,
//! so it is settled by looking it up, never by resending.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::exchange::AttemptOutcome;

/// What a Kraken error means for an order that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Definitively refused; final (`failed`).
    Refused,
    /// The matching engine refused it because its `deadline` had passed (`expired`).
    DeadlineElapsed,
    /// Refused before reaching the engine (nonce, rate limit): retry with a fresh
    /// nonce, after `retry_after` if Kraken said when.
    RetryLater { retry_after: Option<Duration> },
    /// It may have been placed: reconcile by lookup.
    Ambiguous,
}

/// Prefixes (or whole strings) of final refusals.
const REFUSED: &[&str] = &[
    "EOrder:",
    "EGeneral:Invalid arguments",
    "EGeneral:Permission denied",
    "EGeneral:Temporary lockout",
    "EGeneral:Unknown method",
    "EAPI:Invalid key",
    "EAPI:Invalid signature",
    "EAPI:Feature disabled",
    "EQuery:",
    "EAuth:",
    // Market-mode gates: the pair does not accept this order right now.
    "EService:Market in cancel_only mode",
    "EService:Market in post_only mode",
    "EService:Market in limit_only mode",
    "EService:Market in reduce_only mode",
];

/// Refused before the engine; checked before [`REFUSED`] (some share `EOrder:`).
const RETRY_LATER: &[&str] = &[
    "EAPI:Invalid nonce",
    "EAPI:Rate limit exceeded",
    "EOrder:Rate limit exceeded",
    "EOrder:Domain rate limit exceeded",
    "EGeneral:Too many requests",
];

/// Kraken's own "it may or may not have happened" answers; unknown errors join them.
const AMBIGUOUS: &[&str] = &[
    "EService:Unavailable",
    "EService:Busy",
    "EGeneral:Internal error",
];

/// Removes the spaces Kraken's docs sometimes show around colons
/// (`EService: Throttled: 1700000000`), so matching is on the canonical form.
fn canonical(error: &str) -> String {
    error
        .split(':')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether Kraken's error list says the request was throttled by its rate limits;
/// the client-side model then assumes its counter is full.
pub fn is_rate_limit(error: &str) -> bool {
    let error = canonical(error);
    error.contains("Rate limit exceeded")
        || error.starts_with("EGeneral:Too many requests")
        || error.starts_with("EService:Throttled")
}

/// Classifies one error string; `now` turns `EService:Throttled:<unix ts>` into a wait.
pub fn classify_one(error: &str, now: DateTime<Utc>) -> ErrorClass {
    let error = canonical(error);
    if error.starts_with("EService:Deadline elapsed") {
        return ErrorClass::DeadlineElapsed;
    }
    if let Some(rest) = error.strip_prefix("EService:Throttled") {
        let retry_after = rest
            .trim_start_matches(':')
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at, 0))
            .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO));
        return ErrorClass::RetryLater { retry_after };
    }
    if RETRY_LATER.iter().any(|p| error.starts_with(p)) {
        return ErrorClass::RetryLater { retry_after: None };
    }
    if AMBIGUOUS.iter().any(|p| error.starts_with(p)) {
        return ErrorClass::Ambiguous;
    }
    if REFUSED.iter().any(|p| error.starts_with(p)) {
        return ErrorClass::Refused;
    }
    ErrorClass::Ambiguous
}

/// Classifies Kraken's whole error list (warnings, `W…`, are ignored).
///
/// Several errors at once are combined conservatively: ambiguous wins over
/// everything (the order may exist), then a final refusal, then an elapsed deadline,
/// then retry-later (with the longest wait). An empty list is ambiguous: Kraken gave
/// neither a result nor a reason.
pub fn classify(errors: &[String], now: DateTime<Utc>) -> ErrorClass {
    let classes: Vec<ErrorClass> = errors
        .iter()
        .filter(|e| !e.starts_with('W'))
        .map(|e| classify_one(e, now))
        .collect();
    if classes.is_empty() || classes.contains(&ErrorClass::Ambiguous) {
        return ErrorClass::Ambiguous;
    }
    if classes.contains(&ErrorClass::Refused) {
        return ErrorClass::Refused;
    }
    if classes.contains(&ErrorClass::DeadlineElapsed) {
        return ErrorClass::DeadlineElapsed;
    }
    let retry_after = classes
        .iter()
        .filter_map(|c| match c {
            ErrorClass::RetryLater { retry_after } => *retry_after,
            _ => None,
        })
        .max();
    ErrorClass::RetryLater { retry_after }
}

/// The attempt outcome for an `AddOrder` that Kraken answered with `errors`.
pub fn outcome(errors: &[String], now: DateTime<Utc>) -> AttemptOutcome {
    let error = errors.join("; ");
    match classify(errors, now) {
        ErrorClass::Refused => AttemptOutcome::Refused { error },
        ErrorClass::DeadlineElapsed => AttemptOutcome::DeadlineElapsed { error },
        ErrorClass::RetryLater { retry_after } => AttemptOutcome::RetryLater { error, retry_after },
        ErrorClass::Ambiguous => AttemptOutcome::Ambiguous {
            reason: format!("Kraken answered {error:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn each_listed_error_falls_in_its_spec_class() {
        use ErrorClass::*;
        let retry = RetryLater { retry_after: None };
        let table: &[(&str, ErrorClass)] = &[
            ("EOrder:Insufficient funds", Refused),
            ("EOrder:Order minimum not met", Refused),
            (
                "EOrder:Invalid price:XBTUSD price can only be specified up to 1 decimals.",
                Refused,
            ),
            ("EOrder:Margin allowance exceeded", Refused),
            ("EOrder:Orders limit exceeded", Refused),
            ("EGeneral:Invalid arguments", Refused),
            ("EGeneral:Invalid arguments:volume", Refused),
            ("EGeneral:Permission denied", Refused),
            ("EGeneral:Temporary lockout", Refused),
            ("EAPI:Invalid key", Refused),
            ("EAPI:Invalid signature", Refused),
            ("EQuery:Unknown asset pair", Refused),
            ("EAuth:Account temporary disabled", Refused),
            ("EService:Market in cancel_only mode", Refused),
            ("EService:Deadline elapsed", DeadlineElapsed),
            ("EAPI:Invalid nonce", retry.clone()),
            ("EAPI:Rate limit exceeded", retry.clone()),
            ("EOrder:Rate limit exceeded", retry.clone()),
            ("EOrder:Domain rate limit exceeded", retry.clone()),
            ("EGeneral:Too many requests", retry.clone()),
            ("EService:Unavailable", Ambiguous),
            ("EService:Busy", Ambiguous),
            ("EGeneral:Internal error", Ambiguous),
            ("EGeneral:Internal error:timeout", Ambiguous),
            ("ESomething:Never seen before", Ambiguous),
            ("", Ambiguous),
        ];
        for (error, expected) in table {
            assert_eq!(&classify_one(error, now()), expected, "{error}");
        }
    }

    #[test]
    fn throttled_carries_the_wait_until_its_timestamp() {
        for error in [
            "EService:Throttled:1700000030",
            "EService: Throttled: 1700000030",
        ] {
            assert_eq!(
                classify_one(error, now()),
                ErrorClass::RetryLater {
                    retry_after: Some(Duration::from_secs(30))
                },
                "{error}"
            );
        }
        assert_eq!(
            classify_one("EService:Throttled:1600000000", now()),
            ErrorClass::RetryLater {
                retry_after: Some(Duration::ZERO)
            }
        );
        assert_eq!(
            classify_one("EService:Throttled", now()),
            ErrorClass::RetryLater { retry_after: None }
        );
    }

    #[test]
    fn a_list_is_as_ambiguous_as_its_most_ambiguous_error() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify(
                &list(&["EOrder:Insufficient funds", "EService:Busy"]),
                now()
            ),
            ErrorClass::Ambiguous
        );
        assert_eq!(
            classify(
                &list(&["EAPI:Invalid nonce", "EOrder:Insufficient funds"]),
                now()
            ),
            ErrorClass::Refused
        );
        assert_eq!(
            classify(&list(&["WGeneral:Something", "EAPI:Invalid nonce"]), now()),
            ErrorClass::RetryLater { retry_after: None }
        );
        assert_eq!(classify(&[], now()), ErrorClass::Ambiguous);
        assert_eq!(
            classify(&list(&["WOnly:a warning"]), now()),
            ErrorClass::Ambiguous
        );
    }

    #[test]
    fn outcomes_keep_krakens_error_text() {
        let errors = vec!["EOrder:Insufficient funds".to_string()];
        assert_eq!(
            outcome(&errors, now()),
            AttemptOutcome::Refused {
                error: "EOrder:Insufficient funds".into()
            }
        );
        let errors = vec!["EService:Deadline elapsed".to_string()];
        assert!(matches!(
            outcome(&errors, now()),
            AttemptOutcome::DeadlineElapsed { .. }
        ));
    }

    #[test]
    fn rate_limit_errors_are_recognised_for_the_client_side_model() {
        assert!(is_rate_limit("EAPI:Rate limit exceeded"));
        assert!(is_rate_limit("EOrder:Rate limit exceeded"));
        assert!(is_rate_limit("EService: Throttled: 1700000030"));
        assert!(!is_rate_limit("EOrder:Insufficient funds"));
    }
}
