//! Exact decimals as every format writes them: plain digits with an optional fraction
//! (`12.5`), after the format's own unquoting. No `_`, no sign, no surrounding
//! whitespace, no `NaN` or infinities; a JSON *number* may also use an exponent
//! (`1e-3`), since that is how JSON writes it. Never read through a float.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// Most fractional digits an amount may carry; Kraken itself uses at most 10.
pub const MAX_SCALE: u32 = 18;
/// Longest decimal text looked at (more digits than any `Decimal` holds).
const MAX_TEXT: usize = 64;

/// An exact decimal read from JSON as either a string (`"0.1"`) or a number (`0.1`).
///
/// Numbers are taken from their source text (serde_json's `arbitrary_precision`), so
/// `0.1` is exactly one tenth, never the nearest binary float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalInput(pub Decimal);

impl utoipa::PartialSchema for DecimalInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An exact decimal, as a string (\"0.1\") or a JSON number",
            ))
            .examples(["0.01"])
            .into()
    }
}

impl utoipa::ToSchema for DecimalInput {}

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => parse_decimal(&s),
            serde_json::Value::Number(n) => parse_json_number(&n.to_string()),
            _ => Err("expected a decimal string or number".to_owned()),
        }
        .map(DecimalInput)
        .map_err(serde::de::Error::custom)
    }
}

/// Parses a plain decimal string: digits with an optional fraction (`"12.50"`).
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    if text.is_empty() {
        return Err("expected a decimal, got an empty string".into());
    }
    if !is_plain(text) {
        return Err(format!(
            "`{}` is not a plain decimal (digits with an optional fraction, such as 0.01)",
            shown(text)
        ));
    }
    exact(text, Decimal::from_str_exact(text).ok())
}

/// Parses the text of a JSON number, which may carry an exponent (`1e-3`).
pub fn parse_json_number(text: &str) -> Result<Decimal, String> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !is_plain(mantissa) || !exponent_ok {
        return Err(format!(
            "`{}` is not a plain positive decimal number",
            shown(text)
        ));
    }
    let value = match exponent {
        Some(_) => Decimal::from_scientific(text).ok(),
        None => Decimal::from_str_exact(text).ok(),
    };
    exact(text, value)
}

/// Digits, then optionally `.` and more digits; nothing else.
fn is_plain(text: &str) -> bool {
    if text.len() > MAX_TEXT {
        return false;
    }
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

fn exact(text: &str, value: Option<Decimal>) -> Result<Decimal, String> {
    let value = value.ok_or_else(|| format!("`{}` is not a decimal number", shown(text)))?;
    if value.scale() > MAX_SCALE {
        return Err(format!(
            "`{}` has more than {MAX_SCALE} decimal places",
            shown(text)
        ));
    }
    Ok(value.normalize())
}

/// The text for an error message: escaped and at most [`MAX_TEXT`] characters.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(MAX_TEXT).collect();
    cut.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn plain_decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.50").unwrap(), dec("12.5"));
        assert_eq!(parse_decimal("0.001").unwrap(), dec("0.001"));
        assert_eq!(parse_json_number("1e-3").unwrap(), dec("0.001"));
        assert_eq!(parse_json_number("0.1").unwrap(), dec("0.1"));
    }

    #[test]
    fn anything_but_plain_digits_is_refused() {
        for text in [
            "", "1_000", "+0.01", " 0.01 ", "0.01\n", "NaN", "inf", "-1", "1.2.3", ".5", "5.",
            "1e-3", "0x10", "٣",
        ] {
            assert!(parse_decimal(text).is_err(), "{text:?}");
        }
        for text in ["-1", "1e", "1e+", "1e99999", "NaN", "1_0"] {
            assert!(parse_json_number(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn more_than_eighteen_places_is_refused() {
        assert!(parse_decimal("0.0000000000000000001").is_err());
        assert!(parse_decimal("0.000000000000000001").is_ok());
    }
}
