//! The `octobot` format: `KEY=value` pairs separated by newlines, `;` or a literal
//! `\n`, as OctoBot's TradingView signals are written.
//!
//! Keys: `EXCHANGE` (must be `kraken`), `SYMBOL`, `SIGNAL` (`BUY`/`SELL`),
//! `ORDER_TYPE` (`MARKET`/`LIMIT`), `VOLUME` (a base amount, or `N%` of the
//! available balance), `PRICE` (limit price,
//! or a market order's reference price), `REDUCE_ONLY` (`true`/`false`), `TAG` (the
//! strategy) and `TOKEN` (the secret of token sources). `CANCEL` and unknown keys are refused naming the key; a key given twice is refused.

use serde_json::{Map, Value};

use super::loose::{self, Loose};
use super::validate::{validate, Draft, MAX_STRATEGY_LEN};
use super::Parsed;
use crate::signal::{FieldError, OrderType, Side};

/// The keys this format knows.
const KEYS: [&str; 9] = [
    "EXCHANGE",
    "SYMBOL",
    "SIGNAL",
    "ORDER_TYPE",
    "VOLUME",
    "PRICE",
    "REDUCE_ONLY",
    "TAG",
    "TOKEN",
];

/// The `KEY=value` entries of `text`, in order (keys upper-cased).
fn entries(text: &str) -> impl Iterator<Item = (String, &str)> + '_ {
    text.split(['\n', ';'])
        .flat_map(|line| line.split("\\n"))
        .map(|line| line.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) => (key.to_ascii_uppercase(), value),
            None => (line.to_ascii_uppercase(), ""),
        })
}

/// The `TOKEN=` value, read leniently for token authentication.
pub fn token(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    entries(text)
        .find(|(key, _)| key == "TOKEN")
        .map(|(_, value)| value.to_owned())
}

fn name(key: &'static str) -> &'static str {
    match key {
        "pair" => "SYMBOL",
        "volume" | "quote_volume" | "percent" => "VOLUME",
        "price" | "reference_price" => "PRICE",
        "strategy" => "TAG",
        "side" => "SIGNAL",
        other => other,
    }
}

fn boolean(key: &str, value: Option<&Loose>) -> Result<Option<bool>, FieldError> {
    match value.map(|v| v.text.to_ascii_lowercase()).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(FieldError::new(key, "expected true or false")),
    }
}

/// Parses and validates an OctoBot signal.
pub fn parse(body: &[u8]) -> Result<Parsed, FieldError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| FieldError::new("body", "an OctoBot signal must be UTF-8 text"))?;
    let mut values: Map<String, Value> = Map::new();
    for (key, value) in entries(text) {
        let shown: String = key
            .chars()
            .take(32)
            .collect::<String>()
            .escape_debug()
            .to_string();
        if key == "CANCEL" || (key == "SIGNAL" && value.eq_ignore_ascii_case("CANCEL")) {
            return Err(FieldError::new(
                &key,
                "cancelling orders by signal is not supported",
            ));
        }
        if key.is_empty() {
            return Err(FieldError::new(
                "body",
                "an entry has no key: write KEY=value",
            ));
        }
        if !KEYS.contains(&key.as_str()) {
            return Err(FieldError::new(
                &shown,
                format!("unknown key `{shown}`; known keys: {}", KEYS.join(", ")),
            ));
        }
        if values.contains_key(&key) {
            return Err(FieldError::new(&key, "given more than once"));
        }
        values.insert(key, Value::String(value.to_owned()));
    }
    let secret = values
        .remove("TOKEN")
        .and_then(|v| v.as_str().map(str::to_owned));
    let get = |key: &str| values.get(key).and_then(Value::as_str).map(Loose::text);
    if let Some(exchange) = get("EXCHANGE") {
        loose::kraken_only("EXCHANGE", Some(&exchange))?;
    }
    let symbol = loose::required("SYMBOL", get("SYMBOL").as_ref(), 64)?;
    let side = match loose::required("SIGNAL", get("SIGNAL").as_ref(), 16)?
        .to_ascii_uppercase()
        .as_str()
    {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(FieldError::new("SIGNAL", "expected BUY or SELL")),
    };
    let order_type = match get("ORDER_TYPE")
        .map(|v| v.text.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("MARKET") => OrderType::Market,
        Some("LIMIT") => OrderType::Limit,
        Some(_) => return Err(FieldError::new("ORDER_TYPE", "expected MARKET or LIMIT")),
    };
    let mut draft = Draft::new(symbol, side, order_type);
    match get("VOLUME") {
        Some(v) if v.text.ends_with('%') => {
            let percent = Loose::text(&v.text[..v.text.len() - 1]);
            draft.percent = loose::decimal("VOLUME", Some(&percent))?;
        }
        volume => draft.volume = loose::decimal("VOLUME", volume.as_ref())?,
    }
    let price = loose::decimal("PRICE", get("PRICE").as_ref())?;
    match order_type {
        OrderType::Limit => draft.price = price,
        _ => draft.reference_price = price,
    }
    draft.reduce_only = boolean("REDUCE_ONLY", get("REDUCE_ONLY").as_ref())?;
    draft.strategy = loose::text("TAG", get("TAG").as_ref(), MAX_STRATEGY_LEN)?;
    draft.format = Some("octobot".into());
    let payload = Some(Value::Object(values.clone()));
    draft.payload = payload;
    Ok(Parsed {
        signal: validate(draft, name)?,
        secret,
        idempotency_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Amount;

    #[test]
    fn lines_semicolons_and_literal_newlines_all_separate_entries() {
        for body in [
            "EXCHANGE=kraken\nSYMBOL=BTCUSD\nSIGNAL=BUY\nVOLUME=0.001\nTOKEN=t0k",
            "EXCHANGE=kraken;SYMBOL=BTCUSD;SIGNAL=BUY;VOLUME=0.001;TOKEN=t0k",
            "EXCHANGE=kraken\\nSYMBOL=BTCUSD\\nSIGNAL=BUY\\nVOLUME=0.001\\nTOKEN=t0k",
            "EXCHANGE=kraken\r\nSYMBOL=BTCUSD\r\nSIGNAL=buy\r\nVOLUME=0.001\r\nTOKEN=t0k\r\n",
        ] {
            let parsed = parse(body.as_bytes()).unwrap();
            assert_eq!(parsed.signal.side, Side::Buy, "{body:?}");
            assert_eq!(parsed.signal.amount, Amount::Base("0.001".parse().unwrap()));
            assert_eq!(parsed.secret.as_deref(), Some("t0k"));
            let payload = parsed.signal.payload.unwrap();
            assert!(payload.get("TOKEN").is_none());
            assert_eq!(payload["SYMBOL"], "BTCUSD");
        }
    }

    #[test]
    fn a_limit_signal_with_tag_and_reduce_only() {
        let body = "SYMBOL=ETH/USD\nSIGNAL=SELL\nORDER_TYPE=LIMIT\nVOLUME=0.5\nPRICE=3100.5\n\
                    REDUCE_ONLY=true\nTAG=swing";
        let s = parse(body.as_bytes()).unwrap().signal;
        assert_eq!(s.order_type, OrderType::Limit);
        assert_eq!(s.price, Some("3100.5".parse().unwrap()));
        assert!(s.reduce_only);
        assert_eq!(s.strategy.as_deref(), Some("swing"));
    }

    #[test]
    fn cancel_unknown_duplicate_and_malformed_entries_are_refused_naming_the_key() {
        let base = "SYMBOL=BTCUSD\nSIGNAL=BUY\nVOLUME=0.001";
        for (extra, key) in [
            ("CANCEL=true", "CANCEL"),
            ("STOP_PRICE=1", "STOP_PRICE"),
            ("SYMBOL=ETHUSD", "SYMBOL"),
            ("REDUCE_ONLY=yes", "REDUCE_ONLY"),
            ("EXCHANGE=binance", "EXCHANGE"),
            ("PRICE=1_000", "PRICE"),
        ] {
            let err = parse(format!("{base}\n{extra}").as_bytes()).unwrap_err();
            assert_eq!(err.field, key, "{extra}: {err}");
        }
        let err = parse(b"SYMBOL=BTCUSD\nSIGNAL=CANCEL\nVOLUME=1").unwrap_err();
        assert_eq!(err.field, "SIGNAL");
        let err = parse(b"SYMBOL=BTCUSD\nSIGNAL=BUY\nVOLUME=101%").unwrap_err();
        assert_eq!(err.field, "VOLUME");
        let ok = parse(b"SYMBOL=BTCUSD\nSIGNAL=BUY\nVOLUME=10%")
            .unwrap()
            .signal;
        assert_eq!(ok.percent, Some("10".parse().unwrap()));
        assert_eq!(parse(b"\xff\xfe").unwrap_err().field, "body");
    }
}
