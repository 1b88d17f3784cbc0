//! The trading signal: the strict wire body a platform POSTs, and the validated
//! domain [`Signal`] the rest of the pipeline works with.
//!
//! Parsing is deliberately unforgiving: unknown fields are refused (a typo must never
//! silently become a default), amounts are parsed as exact decimals (never through a
//! float), and every error names the field it is about.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Largest amount or price we accept at all: far above any real order, small enough
/// that products of two such values never overflow a `Decimal`.
const ABSURD_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Most fractional digits an amount may carry; Kraken itself uses at most 10.
const MAX_SCALE: u32 = 18;
/// Longest `strategy` tag we store.
const MAX_STRATEGY_LEN: usize = 64;

/// Buy or sell, as Kraken's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

/// Kraken order types this service can place, as Kraken's `ordertype`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum OrderType {
    Market,
    Limit,
    StopLoss,
    TakeProfit,
    StopLossLimit,
    TakeProfitLimit,
}

impl OrderType {
    /// The wire name, identical to Kraken's `ordertype` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::StopLoss => "stop-loss",
            OrderType::TakeProfit => "take-profit",
            OrderType::StopLossLimit => "stop-loss-limit",
            OrderType::TakeProfitLimit => "take-profit-limit",
        }
    }

    /// Whether Kraken needs `price` for this type (the trigger or limit price).
    pub fn needs_price(self) -> bool {
        self != OrderType::Market
    }

    /// Whether Kraken needs `price2` (the limit price of a triggered limit order).
    pub fn needs_price2(self) -> bool {
        matches!(self, OrderType::StopLossLimit | OrderType::TakeProfitLimit)
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown order type `{s}`"))
    }
}

impl Side {
    /// The wire name, identical to Kraken's `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Kraken's `timeinforce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum TimeInForce {
    #[serde(rename = "GTC")]
    Gtc,
    #[serde(rename = "IOC")]
    Ioc,
    #[serde(rename = "GTD")]
    Gtd,
}

impl TimeInForce {
    /// The wire name, identical to Kraken's value.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Gtd => "GTD",
        }
    }
}

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
        let text = match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "expected a decimal string or number",
                ))
            }
        };
        parse_decimal(&text)
            .map(DecimalInput)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a plain decimal (`"12.5"`, `"1e-3"`), refusing empty text, NaN-like words and
/// more than `MAX_SCALE` fractional digits.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected a decimal, got an empty string".into());
    }
    let value = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    }
    .map_err(|_| format!("`{text}` is not a decimal number"))?;
    if value.scale() > MAX_SCALE {
        return Err(format!("`{text}` has more than {MAX_SCALE} decimal places"));
    }
    Ok(value.normalize())
}

/// The optional conditional close attached to an order (Kraken's `close[...]`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub order_type: OrderType,
    pub price: Option<DecimalInput>,
    pub price2: Option<DecimalInput>,
}

/// The signal exactly as it arrives on the wire, before validation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    pub pair: String,
    pub side: Side,
    pub order_type: OrderType,
    pub volume: Option<DecimalInput>,
    pub quote_volume: Option<DecimalInput>,
    pub price: Option<DecimalInput>,
    pub price2: Option<DecimalInput>,
    pub time_in_force: Option<TimeInForce>,
    pub post_only: Option<bool>,
    pub reduce_only: Option<bool>,
    pub leverage: Option<String>,
    pub close: Option<CloseBody>,
    pub client_order_id: Option<Uuid>,
    pub reference_price: Option<DecimalInput>,
    pub signal_time: Option<DateTime<Utc>>,
    pub strategy: Option<String>,
    /// Only for `token` sources; checked by ingress and never stored.
    pub passphrase: Option<String>,
}

/// How much to trade: a base amount, or an amount of quote currency to spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// `volume`: base-currency amount.
    Base(Decimal),
    /// `quote_volume`: quote-currency amount, converted with a price before sending.
    Quote(Decimal),
}

/// A validated conditional close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CloseOrder {
    pub order_type: OrderType,
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
}

/// A validated signal: every field well-formed and consistent with its order type.
///
/// This is what is hashed for idempotency and stored with the order, so it carries no
/// secret (the passphrase is dropped during validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    /// Pair as the signal named it, upper-cased with any `/` removed (`XBT/USD` → `XBTUSD`).
    pub pair: String,
    pub side: Side,
    pub order_type: OrderType,
    pub amount: Amount,
    pub price: Option<Decimal>,
    pub price2: Option<Decimal>,
    pub time_in_force: Option<TimeInForce>,
    pub post_only: bool,
    pub reduce_only: bool,
    pub leverage: Option<String>,
    pub close: Option<CloseOrder>,
    pub client_order_id: Option<Uuid>,
    pub reference_price: Option<Decimal>,
    pub signal_time: Option<DateTime<Utc>>,
    pub strategy: Option<String>,
}

/// A validation failure, naming the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the offending field (`close.price`), or `body` for the whole.
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Parses and validates a raw JSON body. Returns the signal and the passphrase, if any.
pub fn parse_signal(body: &[u8]) -> Result<(Signal, Option<String>), FieldError> {
    // serde would also read a struct from a JSON array; a signal is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(FieldError::new("body", "the signal must be a JSON object"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let raw: SignalBody = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = strip_location(&inner.to_string());
        // The path names the field for type errors and unknown fields alike; it is
        // `.` or `?` when the body itself is not a JSON object.
        if let Some(missing) = missing_field_name(&message) {
            let field = if path == "." {
                missing
            } else {
                format!("{path}.{missing}")
            };
            FieldError::new(&field, message)
        } else if path == "." || path == "?" || path.is_empty() {
            FieldError::new("body", message)
        } else {
            FieldError::new(&path, message)
        }
    })?;
    let passphrase = raw.passphrase.clone();
    Ok((validate(raw)?, passphrase))
}

/// serde_json appends " at line X column Y", which says nothing to a webhook caller.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_owned(),
        None => message.to_owned(),
    }
}

/// Extracts `foo` from serde's "missing field `foo`".
fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn positive(field: &str, value: Option<DecimalInput>) -> Result<Option<Decimal>, FieldError> {
    let Some(DecimalInput(value)) = value else {
        return Ok(None);
    };
    if value <= Decimal::ZERO {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    if value > ABSURD_AMOUNT {
        return Err(FieldError::new(
            field,
            format!("{value} is implausibly large (limit {ABSURD_AMOUNT})"),
        ));
    }
    Ok(Some(value))
}

/// Upper-cases a pair and removes a `/` separator; refuses anything but A–Z and 0–9.
pub fn normalize_pair(pair: &str) -> Result<String, FieldError> {
    let upper: String = pair.trim().to_ascii_uppercase().replace('/', "");
    if upper.len() < 4 || upper.len() > 16 || !upper.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "pair",
            format!("`{pair}` is not a Kraken pair name such as XBTUSD or XBT/USD"),
        ));
    }
    Ok(upper)
}

fn validate_prices(
    prefix: &str,
    order_type: OrderType,
    price: Option<Decimal>,
    price2: Option<Decimal>,
) -> Result<(), FieldError> {
    let field = |name: &str| format!("{prefix}{name}");
    if order_type.needs_price() && price.is_none() {
        return Err(FieldError::new(
            &field("price"),
            format!("required for a {order_type} order"),
        ));
    }
    if !order_type.needs_price() && price.is_some() {
        return Err(FieldError::new(
            &field("price"),
            "not allowed on a market order",
        ));
    }
    if order_type.needs_price2() && price2.is_none() {
        return Err(FieldError::new(
            &field("price2"),
            format!("required for a {order_type} order"),
        ));
    }
    if !order_type.needs_price2() && price2.is_some() {
        return Err(FieldError::new(
            &field("price2"),
            format!("not allowed on a {order_type} order"),
        ));
    }
    Ok(())
}

fn validate(raw: SignalBody) -> Result<Signal, FieldError> {
    let pair = normalize_pair(&raw.pair)?;
    let volume = positive("volume", raw.volume)?;
    let quote_volume = positive("quote_volume", raw.quote_volume)?;
    let amount = match (volume, quote_volume) {
        (Some(v), None) => Amount::Base(v),
        (None, Some(q)) => Amount::Quote(q),
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "volume",
                "give exactly one of `volume` and `quote_volume`, not both",
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "volume",
                "one of `volume` or `quote_volume` is required",
            ))
        }
    };
    let price = positive("price", raw.price)?;
    let price2 = positive("price2", raw.price2)?;
    validate_prices("", raw.order_type, price, price2)?;
    let close = match raw.close {
        None => None,
        Some(close) => {
            let price = positive("close.price", close.price)?;
            let price2 = positive("close.price2", close.price2)?;
            if close.order_type == OrderType::Market {
                return Err(FieldError::new(
                    "close.order_type",
                    "a conditional close cannot be a market order",
                ));
            }
            validate_prices("close.", close.order_type, price, price2)?;
            Some(CloseOrder {
                order_type: close.order_type,
                price,
                price2,
            })
        }
    };
    if raw.time_in_force == Some(TimeInForce::Gtd) {
        return Err(FieldError::new(
            "time_in_force",
            "GTD needs an expiry time, which signals cannot carry; use GTC or IOC",
        ));
    }
    if raw.post_only == Some(true) && raw.order_type != OrderType::Limit {
        return Err(FieldError::new(
            "post_only",
            "only a limit order can be post-only",
        ));
    }
    let leverage = match raw.leverage {
        None => None,
        Some(l) if valid_leverage(&l) => Some(l),
        Some(l) => {
            return Err(FieldError::new(
                "leverage",
                format!("`{l}` is not a leverage such as \"2\" or \"2:1\""),
            ))
        }
    };
    let strategy = match raw.strategy {
        Some(s) if s.chars().count() > MAX_STRATEGY_LEN => {
            return Err(FieldError::new(
                "strategy",
                format!("longer than {MAX_STRATEGY_LEN} characters"),
            ))
        }
        Some(s) if s.chars().any(char::is_control) => {
            return Err(FieldError::new("strategy", "contains control characters"))
        }
        other => other,
    };
    Ok(Signal {
        pair,
        side: raw.side,
        order_type: raw.order_type,
        amount,
        price,
        price2,
        time_in_force: raw.time_in_force,
        post_only: raw.post_only.unwrap_or(false),
        reduce_only: raw.reduce_only.unwrap_or(false),
        leverage,
        close,
        client_order_id: raw.client_order_id,
        reference_price: positive("reference_price", raw.reference_price)?,
        signal_time: raw.signal_time,
        strategy,
    })
}

fn valid_leverage(text: &str) -> bool {
    let number = text.strip_suffix(":1").unwrap_or(text);
    matches!(number.parse::<u8>(), Ok(n) if (2..=100).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn parse(json: &str) -> Result<Signal, FieldError> {
        parse_signal(json.as_bytes()).map(|(s, _)| s)
    }

    #[test]
    fn number_amounts_are_exact_decimals_not_floats() {
        let s =
            parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":0.1}"#).unwrap();
        assert_eq!(s.amount, Amount::Base(dec("0.1")));
        let s = parse(
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":0.123456789012345678}"#,
        )
        .unwrap();
        assert_eq!(s.amount, Amount::Base(dec("0.123456789012345678")));
    }

    #[test]
    fn string_amounts_and_scientific_notation_parse() {
        assert_eq!(parse_decimal("12.50").unwrap(), dec("12.5"));
        assert_eq!(parse_decimal("1e-3").unwrap(), dec("0.001"));
        assert!(parse_decimal("").is_err());
        assert!(parse_decimal("NaN").is_err());
        assert!(parse_decimal("1.2.3").is_err());
        assert!(parse_decimal("0.0000000000000000001").is_err());
    }

    #[test]
    fn wsname_pairs_are_normalised() {
        let s = parse(r#"{"pair":"xbt/usd","side":"sell","order_type":"market","volume":"1"}"#)
            .unwrap();
        assert_eq!(s.pair, "XBTUSD");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse(
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","volum":"2"}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "volum");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse(
            r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","post_only":"yes"}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "post_only");
        let err = parse(
            r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"1","price":"1",
                "close":{"order_type":"limit","price":"abc"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "close.price");
    }

    #[test]
    fn limit_order_without_price_is_refused() {
        let err = parse(r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","volume":"1"}"#)
            .unwrap_err();
        assert_eq!(err.field, "price");
    }

    #[test]
    fn negative_zero_and_absurd_volumes_are_refused() {
        for v in ["-1", "0", "1000000000000"] {
            let body =
                format!(r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"{v}"}}"#);
            assert_eq!(parse(&body).unwrap_err().field, "volume", "volume {v}");
        }
    }

    #[test]
    fn both_or_neither_amount_is_refused() {
        let both = r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","quote_volume":"5"}"#;
        assert_eq!(parse(both).unwrap_err().field, "volume");
        let neither = r#"{"pair":"XBTUSD","side":"buy","order_type":"market"}"#;
        assert_eq!(parse(neither).unwrap_err().field, "volume");
    }

    #[test]
    fn stop_loss_limit_needs_both_prices() {
        let err = parse(
            r#"{"pair":"XBTUSD","side":"sell","order_type":"stop-loss-limit","volume":"1","price":"10"}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "price2");
    }

    #[test]
    fn passphrase_is_returned_apart_and_not_kept_in_the_signal() {
        let (signal, pass) = parse_signal(
            br#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","passphrase":"s3cret"}"#,
        )
        .unwrap();
        assert_eq!(pass.as_deref(), Some("s3cret"));
        assert!(!serde_json::to_string(&signal).unwrap().contains("s3cret"));
    }

    #[test]
    fn malformed_json_is_a_body_error() {
        assert_eq!(parse("{not json").unwrap_err().field, "body");
    }
}
