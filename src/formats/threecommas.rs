//! The `3commas` format: the 3Commas Signal Bot JSON. Orders are market orders (as
//! 3Commas signal bots trade) with `trigger_price` as their reference price;
//! `max_lag` bounds the signal's age (from `timestamp`). `bot_uuid`,
//! `strategy_info` and every other field are kept, minus `secret`, in the audit record.

use serde::Deserialize;

use super::loose::{self, Loose};
use super::validate::{validate, Draft};
use super::{json, Context, Parsed};
use crate::signal::{FieldError, OrderType};

/// Largest `max_lag`: a day.
const MAX_LAG_SECS: u64 = 86_400;

#[derive(Debug, Deserialize)]
struct BotSignal {
    secret: Option<Loose>,
    max_lag: Option<Loose>,
    timestamp: Option<Loose>,
    trigger_price: Option<Loose>,
    tv_exchange: Option<Loose>,
    tv_instrument: Option<Loose>,
    action: Option<Loose>,
    order: Option<BotOrder>,
    leverage: Option<Loose>,
}

#[derive(Debug, Deserialize)]
struct BotOrder {
    amount: Option<Loose>,
    currency_type: Option<Loose>,
    order_type: Option<Loose>,
}

/// Native field names as this format calls them.
fn names(name: &'static str) -> &'static str {
    match name {
        "pair" => "tv_instrument",
        "volume" | "quote_volume" => "order.amount",
        "reference_price" => "trigger_price",
        "signal_time" => "timestamp",
        other => other,
    }
}

/// Parses and validates a 3Commas Signal Bot message.
pub fn parse(body: &[u8], context: Context) -> Result<Parsed, FieldError> {
    let mut raw = json::raw_object(body)?;
    let bot: BotSignal = json::fields(&raw)?;
    raw.remove("secret");
    loose::kraken_only("tv_exchange", bot.tv_exchange.as_ref())?;
    let instrument = loose::required("tv_instrument", bot.tv_instrument.as_ref(), 64)?;
    let action = loose::action("action", bot.action.as_ref())?;
    let leverage = loose::text("leverage", bot.leverage.as_ref(), 8)?;
    loose::check_short(
        "action",
        action,
        context.allow_leverage,
        leverage.as_deref(),
    )?;
    let order = bot.order.ok_or_else(|| {
        FieldError::new("order", "is required: `{\"amount\", \"currency_type\"}`")
    })?;
    if let Some(kind) = loose::text("order.order_type", order.order_type.as_ref(), 16)? {
        if !kind.eq_ignore_ascii_case("market") {
            return Err(FieldError::new(
                "order.order_type",
                "3Commas signals are placed as market orders; use `market`",
            ));
        }
    }
    let amount = loose::decimal("order.amount", order.amount.as_ref())?;
    let mut draft = Draft::new(instrument, action.side, OrderType::Market);
    match loose::text("order.currency_type", order.currency_type.as_ref(), 32)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("base") => draft.volume = amount,
        Some("quote") => draft.quote_volume = amount,
        _ => {
            return Err(FieldError::new(
                "order.currency_type",
                "expected `base` or `quote` (percentages are not supported)",
            ))
        }
    }
    draft.reference_price = loose::decimal("trigger_price", bot.trigger_price.as_ref())?;
    draft.signal_time = loose::time("timestamp", bot.timestamp.as_ref())?;
    draft.max_age_secs = loose::seconds("max_lag", bot.max_lag.as_ref(), MAX_LAG_SECS)?;
    if draft.max_age_secs.is_some() && draft.signal_time.is_none() {
        return Err(FieldError::new(
            "timestamp",
            "required with `max_lag`: the lag is measured from it",
        ));
    }
    draft.leverage = leverage;
    draft.format = Some("3commas".into());
    draft.payload = Some(serde_json::Value::Object(raw));
    Ok(Parsed {
        signal: validate(draft, names)?,
        secret: bot.secret.map(|s| s.text),
        idempotency_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Amount, Side};

    /// 3Commas' Signal Bot message as its documentation shows it, substituted.
    const MESSAGE: &str = r#"{
        "secret": "eyJhbGciOiJIUzI1NiJ9.s3cret",
        "max_lag": "300",
        "timestamp": "2024-05-01T12:00:00Z",
        "trigger_price": "64250.5",
        "tv_exchange": "KRAKEN",
        "tv_instrument": "BTCUSD",
        "action": "enter_long",
        "bot_uuid": "9a8b7c6d-0000-4000-8000-123456789abc",
        "strategy_info": {"market_position": "long", "market_position_size": "0.001",
                          "prev_market_position": "flat", "prev_market_position_size": "0"},
        "order": {"amount": "0.001", "currency_type": "base", "order_type": "market"}
    }"#;

    #[test]
    fn the_documented_message_becomes_a_market_buy() {
        let parsed = parse(MESSAGE.as_bytes(), Context::default()).unwrap();
        let s = parsed.signal;
        assert_eq!(s.side, Side::Buy);
        assert_eq!(s.order_type, OrderType::Market);
        assert_eq!(s.amount, Amount::Base("0.001".parse().unwrap()));
        assert_eq!(s.reference_price, Some("64250.5".parse().unwrap()));
        assert_eq!(s.max_age_secs, Some(300));
        assert_eq!(
            parsed.secret.as_deref(),
            Some("eyJhbGciOiJIUzI1NiJ9.s3cret")
        );
        let payload = s.payload.unwrap();
        assert_eq!(payload["bot_uuid"], "9a8b7c6d-0000-4000-8000-123456789abc");
        assert!(payload.get("secret").is_none());
    }

    #[test]
    fn quote_amounts_and_numbers_work_and_exits_sell() {
        let body = MESSAGE
            .replace(r#""currency_type": "base""#, r#""currency_type": "quote""#)
            .replace(r#""amount": "0.001""#, r#""amount": 50"#)
            .replace("enter_long", "exit_long");
        let s = parse(body.as_bytes(), Context::default()).unwrap().signal;
        assert_eq!(s.amount, Amount::Quote("50".parse().unwrap()));
        assert_eq!(s.side, Side::Sell);
    }

    #[test]
    fn unsupported_shapes_are_refused_naming_the_field() {
        for (from, to, field) in [
            (r#""base""#, r#""margin_percent""#, "order.currency_type"),
            (
                r#""order_type": "market""#,
                r#""order_type": "limit""#,
                "order.order_type",
            ),
            (r#""300""#, r#""-5""#, "max_lag"),
            (r#""KRAKEN""#, r#""BINANCE""#, "tv_exchange"),
            (r#""enter_long""#, r#""enter_short""#, "action"),
            (r#""64250.5""#, r#""NaN""#, "trigger_price"),
            (r#""2024-05-01T12:00:00Z""#, r#""soon""#, "timestamp"),
        ] {
            let err =
                parse(MESSAGE.replacen(from, to, 1).as_bytes(), Context::default()).unwrap_err();
            assert_eq!(err.field, field, "{from} -> {to}: {err}");
        }
    }
}
