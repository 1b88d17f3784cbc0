//! Values of platform formats, which may arrive as JSON numbers or as strings (an
//! alert placeholder such as `{{close}}` is substituted as text): read once, then
//! checked strictly per use, every error naming the field.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

use super::decimal::{parse_decimal, parse_json_number};
use super::text::free_text_problem;
use crate::signal::{FieldError, Side};

/// A JSON string, number or boolean, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose {
    /// The text (a number's exact source text).
    pub text: String,
    /// Whether it was a JSON number.
    pub number: bool,
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (text, number) = match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => (s, false),
            serde_json::Value::Number(n) => (n.to_string(), true),
            serde_json::Value::Bool(b) => (b.to_string(), false),
            _ => return Err(serde::de::Error::custom("expected a string or a number")),
        };
        Ok(Loose { text, number })
    }
}

impl Loose {
    /// A string value (octobot's `KEY=value`).
    pub fn text(text: &str) -> Self {
        Loose {
            text: text.to_owned(),
            number: false,
        }
    }
}

/// A non-empty text value, at most `max` characters of printable text.
pub fn text(field: &str, value: Option<&Loose>, max: usize) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.text.is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    if let Some(problem) = free_text_problem(&value.text, max) {
        return Err(FieldError::new(field, problem));
    }
    Ok(Some(value.text.clone()))
}

/// A required non-empty text value.
pub fn required(field: &str, value: Option<&Loose>, max: usize) -> Result<String, FieldError> {
    text(field, value, max)?.ok_or_else(|| FieldError::new(field, "is required"))
}

/// An exact decimal; `NaN`, infinities, empty text and anything but plain digits
/// with an optional fraction are refused.
pub fn decimal(field: &str, value: Option<&Loose>) -> Result<Option<Decimal>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let lower = value.text.to_ascii_lowercase();
    if lower.contains("nan") || lower.contains("inf") {
        return Err(FieldError::new(field, "is not a number (NaN or infinity)"));
    }
    let parsed = if value.number {
        parse_json_number(&value.text)
    } else {
        parse_decimal(&value.text)
    };
    parsed.map(Some).map_err(|m| FieldError::new(field, m))
}

/// A whole number of seconds (`max_lag`), at most `max`.
pub fn seconds(field: &str, value: Option<&Loose>, max: u64) -> Result<Option<u64>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) && value.text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(n))
        }
        _ => Err(FieldError::new(
            field,
            format!("expected whole seconds between 1 and {max}"),
        )),
    }
}

/// A point in time: RFC 3339 (`2024-05-01T12:00:00Z`, TradingView's `{{timenow}}`) or
/// whole Unix seconds or milliseconds.
pub fn time(field: &str, value: Option<&Loose>) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.text.as_str();
    let parsed = if !text.is_empty() && text.len() <= 14 && text.bytes().all(|b| b.is_ascii_digit())
    {
        text.parse::<i64>().ok().and_then(|n| {
            if n >= 100_000_000_000 {
                Utc.timestamp_millis_opt(n).single()
            } else {
                Utc.timestamp_opt(n, 0).single()
            }
        })
    } else {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    parsed.map(Some).ok_or_else(|| {
        FieldError::new(
            field,
            "expected an RFC 3339 time such as 2024-05-01T12:00:00Z, or Unix seconds",
        )
    })
}

/// A `KRAKEN` exchange name, if given; any other exchange is refused.
pub fn kraken_only(field: &str, value: Option<&Loose>) -> Result<(), FieldError> {
    match value {
        Some(v) if !v.text.eq_ignore_ascii_case("KRAKEN") => Err(FieldError::new(
            field,
            format!(
                "`{}` is not KRAKEN; tradehook trades on Kraken only",
                v.text.chars().take(32).collect::<String>().escape_debug()
            ),
        )),
        _ => Ok(()),
    }
}

/// What a trading action asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The order side.
    pub side: Side,
    /// Opens or closes a short position (needs leverage).
    pub short: bool,
}

/// Reads a platform action: `buy`/`sell`, `long`/`enter_long` (buy), `exit_long`
/// (sell); `short`/`enter_short` (sell) and `exit_short` (buy) are short trades.
pub fn action(field: &str, value: Option<&Loose>) -> Result<Action, FieldError> {
    let text = required(field, value, 32)?;
    let (side, short) = match text.to_ascii_lowercase().as_str() {
        "buy" | "long" | "enter_long" => (Side::Buy, false),
        "sell" | "exit_long" => (Side::Sell, false),
        "short" | "enter_short" => (Side::Sell, true),
        "exit_short" => (Side::Buy, true),
        _ => {
            return Err(FieldError::new(
                field,
                format!(
                    "`{}` is not an action: use buy, sell, enter_long or exit_long",
                    text.escape_debug()
                ),
            ))
        }
    };
    Ok(Action { side, short })
}

/// Refuses a short trade unless leverage is allowed and the signal names its leverage.
pub fn check_short(
    field: &str,
    action: Action,
    allow_leverage: bool,
    leverage: Option<&str>,
) -> Result<(), FieldError> {
    if !action.short {
        return Ok(());
    }
    if !allow_leverage {
        return Err(FieldError::new(
            field,
            "short trades need margin, and risk.allow_leverage is off: tradehook trades spot",
        ));
    }
    if leverage.is_none() {
        return Err(FieldError::new(
            field,
            "a short trade needs a `leverage` such as \"2\" in the signal",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Loose {
        Loose::text(text)
    }

    #[test]
    fn nan_infinity_and_empty_values_are_refused_naming_the_field() {
        for bad in ["NaN", "nan", "Infinity", "-inf", "", " 1", "1_0", "+1"] {
            let err = decimal("contracts", Some(&s(bad))).unwrap_err();
            assert_eq!(err.field, "contracts", "{bad:?}");
        }
        assert_eq!(
            decimal("contracts", Some(&s("0.5"))).unwrap(),
            Some("0.5".parse().unwrap())
        );
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds_or_milliseconds() {
        let at = time("timestamp", Some(&s("2024-05-01T12:00:00Z")))
            .unwrap()
            .unwrap();
        assert_eq!(at.timestamp(), 1_714_564_800);
        let secs = time("t", Some(&s("1714564800"))).unwrap().unwrap();
        let millis = time("t", Some(&s("1714564800000"))).unwrap().unwrap();
        assert_eq!(secs, at);
        assert_eq!(millis, at);
        assert!(time("t", Some(&s("yesterday"))).is_err());
        assert!(time("t", Some(&s(""))).is_err());
    }

    #[test]
    fn actions_map_to_sides_and_short_trades_need_leverage() {
        assert_eq!(action("a", Some(&s("enter_long"))).unwrap().side, Side::Buy);
        assert_eq!(action("a", Some(&s("exit_long"))).unwrap().side, Side::Sell);
        assert_eq!(action("a", Some(&s("SELL"))).unwrap().side, Side::Sell);
        assert!(action("a", Some(&s("hold"))).is_err());
        let short = action("a", Some(&s("enter_short"))).unwrap();
        assert!(check_short("a", short, false, Some("2")).is_err());
        assert!(check_short("a", short, true, None).is_err());
        assert!(check_short("a", short, true, Some("2")).is_ok());
    }
}
