//! The `tradingview` format: the alert message of the README's template (see
//! [`super::template`]), placeholders substituted by TradingView as text.
//!
//! Fields used: `ticker` (any pair spelling, `KRAKEN:` prefix allowed), `exchange`
//! (must be `KRAKEN` if present), `action`, exactly one of `contracts` (base),
//! `quote_amount` (quote) and `percent` (of the available balance), `order_type` (`market`, the default, or `limit`), `price`
//! (the limit price, or a market order's reference price), `timestamp` (staleness),
//! `id` (idempotency key), `strategy`, `leverage`. Every other field (`position`,
//! `comment`, …) is ignored but kept, with the whole payload minus `secret`, in the
//! audit record.

use serde::Deserialize;

use super::loose::{self, Loose};
use super::validate::{validate, Draft, MAX_STRATEGY_LEN};
use super::{json, Context, Parsed};
use crate::signal::{FieldError, OrderType};

/// Longest `id` kept as an idempotency key.
const MAX_ID: usize = 128;

/// The alert fields this format reads.
#[derive(Debug, Deserialize)]
struct Alert {
    secret: Option<Loose>,
    ticker: Option<Loose>,
    exchange: Option<Loose>,
    action: Option<Loose>,
    contracts: Option<Loose>,
    quote_amount: Option<Loose>,
    percent: Option<Loose>,
    order_type: Option<Loose>,
    price: Option<Loose>,
    timestamp: Option<Loose>,
    id: Option<Loose>,
    strategy: Option<Loose>,
    leverage: Option<Loose>,
    comment: Option<Loose>,
}

/// Longest `comment` accepted: it is shown wherever the record is.
pub const MAX_COMMENT_LEN: usize = 500;

/// Native field names as this format calls them.
fn names(name: &'static str) -> &'static str {
    match name {
        "pair" => "ticker",
        "volume" => "contracts",
        "quote_volume" => "quote_amount",
        "signal_time" => "timestamp",
        other => other,
    }
}

/// Parses and validates a TradingView alert.
pub fn parse(body: &[u8], context: Context) -> Result<Parsed, FieldError> {
    let mut raw = json::raw_object(body)?;
    let alert: Alert = json::fields(&raw)?;
    raw.remove("secret");
    let secret = alert.secret.map(|s| s.text);
    loose::kraken_only("exchange", alert.exchange.as_ref())?;
    let ticker = loose::required("ticker", alert.ticker.as_ref(), 64)?;
    let action = loose::action("action", alert.action.as_ref())?;
    let leverage = loose::text("leverage", alert.leverage.as_ref(), 8)?;
    loose::check_short(
        "action",
        action,
        context.allow_leverage,
        leverage.as_deref(),
    )?;
    let order_type = match loose::text("order_type", alert.order_type.as_ref(), 16)?
        .map(|t| t.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("market") => OrderType::Market,
        Some("limit") => OrderType::Limit,
        Some(_) => {
            return Err(FieldError::new(
                "order_type",
                "expected `market` or `limit`",
            ))
        }
    };
    let mut draft = Draft::new(ticker, action.side, order_type);
    draft.volume = loose::decimal("contracts", alert.contracts.as_ref())?;
    draft.quote_volume = loose::decimal("quote_amount", alert.quote_amount.as_ref())?;
    draft.percent = loose::decimal("percent", alert.percent.as_ref())?;
    let price = loose::decimal("price", alert.price.as_ref())?;
    match order_type {
        OrderType::Limit => draft.price = price,
        _ => draft.reference_price = price,
    }
    draft.signal_time = loose::time("timestamp", alert.timestamp.as_ref())?;
    draft.strategy = loose::text("strategy", alert.strategy.as_ref(), MAX_STRATEGY_LEN)?;
    draft.leverage = leverage;
    // Often empty (`{{strategy.order.comment}}` of an order without one): allowed.
    if let Some(comment) = alert.comment.filter(|c| !c.text.is_empty()) {
        loose::text("comment", Some(&comment), MAX_COMMENT_LEN)?;
    }
    draft.format = Some("tradingview".into());
    draft.payload = Some(serde_json::Value::Object(raw));
    let idempotency_key = loose::text("id", alert.id.as_ref(), MAX_ID)?;
    Ok(Parsed {
        signal: validate(draft, names)?,
        secret,
        idempotency_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Amount, Side};

    /// The README template as TradingView sends it, placeholders substituted.
    pub const ALERT: &str = r#"{"secret": "s3cret", "ticker": "BTCUSD", "exchange": "KRAKEN",
        "action": "buy", "contracts": "0.001", "order_type": "market", "price": "64250.5",
        "timestamp": "2024-05-01T12:00:00Z", "id": "Long-2024-05-01T12:00:00Z",
        "position": "long", "comment": "", "strategy": "my-strategy"}"#;

    fn parse_ok(body: &str) -> Parsed {
        parse(body.as_bytes(), Context::default()).unwrap()
    }

    fn parse_err(body: &str) -> FieldError {
        parse(body.as_bytes(), Context::default()).unwrap_err()
    }

    #[test]
    fn the_template_alert_becomes_a_market_buy_with_a_reference_price() {
        let parsed = parse_ok(ALERT);
        let s = &parsed.signal;
        assert_eq!(s.pair, "BTCUSD", "resolved later, through the pair table");
        assert_eq!(s.side, Side::Buy);
        assert_eq!(s.order_type, OrderType::Market);
        assert_eq!(s.amount, Amount::Base("0.001".parse().unwrap()));
        assert_eq!(s.reference_price, Some("64250.5".parse().unwrap()));
        assert_eq!(s.strategy.as_deref(), Some("my-strategy"));
        assert_eq!(parsed.secret.as_deref(), Some("s3cret"));
        assert_eq!(
            parsed.idempotency_key.as_deref(),
            Some("Long-2024-05-01T12:00:00Z")
        );
        let payload = s.payload.as_ref().unwrap();
        assert_eq!(payload["position"], "long");
        assert!(payload.get("secret").is_none());
        assert!(!serde_json::to_string(s).unwrap().contains("s3cret"));
    }

    #[test]
    fn numbers_may_be_json_numbers() {
        let body = ALERT
            .replace(r#""0.001""#, "0.001")
            .replace(r#""64250.5""#, "64250.5");
        assert_eq!(
            parse_ok(&body).signal,
            parse_ok(ALERT).signal.clone().with_payload_of(&body)
        );
    }

    #[test]
    fn a_limit_alert_uses_price_as_its_limit() {
        let s = parse_ok(&ALERT.replace(r#""market""#, r#""limit""#)).signal;
        assert_eq!(s.order_type, OrderType::Limit);
        assert_eq!(s.price, Some("64250.5".parse().unwrap()));
        assert_eq!(s.reference_price, None);
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        for (from, to, field) in [
            (r#""0.001""#, r#""NaN""#, "contracts"),
            (r#""0.001""#, r#""""#, "contracts"),
            (r#""64250.5""#, r#""Infinity""#, "price"),
            (r#""KRAKEN""#, r#""BINANCE""#, "exchange"),
            (r#""BTCUSD""#, r#""BTCUSD.P""#, "ticker"),
            (r#""buy""#, r#""enter_short""#, "action"),
            (r#""buy""#, r#""""#, "action"),
            (r#""my-strategy""#, "\"a\\u202eb\"", "strategy"),
            (r#""2024-05-01T12:00:00Z""#, r#""{{timenow}}""#, "timestamp"),
            (r#""comment": """#, r#""comment": "a\nb""#, "comment"),
        ] {
            let err = parse_err(&ALERT.replacen(from, to, 1));
            assert_eq!(err.field, field, "{from} -> {to}: {err}");
        }
    }

    #[test]
    fn both_or_neither_size_is_refused() {
        let both = ALERT.replace(r#""contracts""#, r#""quote_amount": "10", "contracts""#);
        assert_eq!(parse_err(&both).field, "contracts");
        let neither = ALERT.replace(r#""contracts": "0.001","#, "");
        assert_eq!(parse_err(&neither).field, "contracts");
    }

    #[test]
    fn trailing_data_and_plain_text_are_refused() {
        assert_eq!(parse_err(&format!("{ALERT}x")).field, "body");
        assert_eq!(parse_err("BTCUSD buy now").field, "body");
    }

    trait WithPayload {
        fn with_payload_of(self, body: &str) -> Self;
    }

    impl WithPayload for crate::signal::Signal {
        fn with_payload_of(mut self, body: &str) -> Self {
            let mut raw = json::raw_object(body.as_bytes()).unwrap();
            raw.remove("secret");
            self.payload = Some(serde_json::Value::Object(raw));
            self
        }
    }
}
