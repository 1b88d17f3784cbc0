//! Signal formats: one small adapter per platform, each mapping its shape onto the
//! one shared validation ([`validate`]) and the one pair resolver ([`pairs`]).
//!
//! | format        | body                                   | token secret in |
//! |---------------|----------------------------------------|-----------------|
//! | `tradehook`   | the native JSON (SPEC §2), strict      | `passphrase`    |
//! | `tradingview` | the alert template (JSON)              | `secret`        |
//! | `3commas`     | the Signal Bot JSON                    | `secret`        |
//! | `octobot`     | `KEY=value` lines                      | `TOKEN=`        |
//!
//! A source's format is independent of its authentication; the body is parsed by
//! the format whatever its `Content-Type` says.

pub mod decimal;
pub mod json;
pub mod loose;
pub mod octobot;
pub mod pairs;
pub mod template;
pub mod text;
pub mod threecommas;
pub mod tradehook;
pub mod tradingview;
pub mod validate;

#[cfg(test)]
mod proptests;

use serde::{Deserialize, Serialize};

use crate::signal::{FieldError, Signal};

/// The body shape a source sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Format {
    /// The native JSON (SPEC §2).
    #[default]
    #[serde(rename = "tradehook")]
    Tradehook,
    /// A TradingView alert message in the template's JSON shape.
    #[serde(rename = "tradingview")]
    Tradingview,
    /// A 3Commas Signal Bot JSON.
    #[serde(rename = "3commas")]
    ThreeCommas,
    /// OctoBot's `KEY=value` lines.
    #[serde(rename = "octobot")]
    Octobot,
}

impl Format {
    /// The config name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tradehook => "tradehook",
            Format::Tradingview => "tradingview",
            Format::ThreeCommas => "3commas",
            Format::Octobot => "octobot",
        }
    }
}

/// What the service allows that changes how a body is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// `risk.allow_leverage`: short actions may be read (with a `leverage`).
    pub allow_leverage: bool,
}

/// A body read and validated by its format.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The validated signal (its pair not yet resolved through the pair table).
    pub signal: Signal,
    /// The token secret the body carried, if any: compared, then dropped.
    pub secret: Option<String>,
    /// The platform's own idempotency key (TradingView `id`), if any.
    pub idempotency_key: Option<String>,
}

/// Reads `body` as `format`.
pub fn parse(format: Format, body: &[u8], context: Context) -> Result<Parsed, FieldError> {
    match format {
        Format::Tradehook => tradehook::parse(body),
        Format::Tradingview => tradingview::parse(body, context),
        Format::ThreeCommas => threecommas::parse(body, context),
        Format::Octobot => octobot::parse(body),
    }
}

/// The token secret in `body`, read leniently (before the strict parse, so that an
/// unauthenticated caller learns nothing about what is wrong with its body).
pub fn body_secret(format: Format, body: &[u8]) -> Option<String> {
    let field = match format {
        Format::Tradehook => "passphrase",
        Format::Tradingview | Format::ThreeCommas => "secret",
        Format::Octobot => return octobot::token(body),
    };
    // The first JSON value only: trailing data is the strict parse's to refuse (400).
    let first = serde_json::Deserializer::from_slice(body)
        .into_iter::<serde_json::Value>()
        .next()?
        .ok()?;
    first.get(field)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_found_where_each_format_keeps_it() {
        assert_eq!(
            body_secret(Format::Tradehook, br#"{"passphrase":"p"}xyz"#).as_deref(),
            Some("p")
        );
        assert_eq!(
            body_secret(Format::Tradingview, br#"{"secret":"s"}"#).as_deref(),
            Some("s")
        );
        assert_eq!(
            body_secret(Format::ThreeCommas, br#"{"passphrase":"s"}"#),
            None
        );
        assert_eq!(
            body_secret(Format::Octobot, b"SIGNAL=BUY\nTOKEN=t").as_deref(),
            Some("t")
        );
        assert_eq!(body_secret(Format::Tradingview, b"\xff"), None);
    }

    #[test]
    fn format_names_are_the_config_names() {
        for format in [
            Format::Tradehook,
            Format::Tradingview,
            Format::ThreeCommas,
            Format::Octobot,
        ] {
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.as_str()));
        }
    }
}
