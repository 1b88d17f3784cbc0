//! Pair resolution, one resolver for every format: `XBTUSD`, `BTCUSD`, `BTC/USD`,
//! `XBT/USD`, `XXBTZUSD`, `btc-usd` and `KRAKEN:BTCUSD` all name Kraken's `XBTUSD`.
//!
//! Names are looked up in Kraken's pair table (altname, wsname, canonical id) and, when
//! that fails, split into a base and a quote asset matched against the table's asset
//! ids with Kraken's own aliases (`BTC`↔`XBT`, `DOGE`↔`XDG`). `USDT` is never `USD`.
//! A TradingView perpetual (`.P`) or another exchange's prefix is refused; an unknown
//! name stays unknown (the risk rules refuse it, recorded) and an ambiguous one is
//! refused naming the candidates: never a guess.

use crate::pairs::{short_asset, PairInfo, PairTable};
use crate::signal::FieldError;

/// Longest pair name looked at.
const MAX_NAME: usize = 32;

/// What a pair name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one Kraken pair: its altname.
    Pair(String),
    /// No Kraken pair in the table: the name upper-cased without separators.
    Unknown(String),
}

/// Upper-cases a pair and removes a `/` separator; refuses anything but A–Z and 0–9
/// (for configured pair lists and filters, which name Kraken pairs directly).
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

/// A pair name as sent, split into its Kraken-relevant parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    /// Upper-cased, exchange prefix removed, separators kept out.
    joined: String,
    /// Base and quote, when the name had a separator.
    split: Option<(String, String)>,
}

/// Checks the syntax of a pair name as sent and returns its upper-cased form without
/// exchange prefix or separators (what [`resolve`] falls back to when unknown).
pub fn canonical(sent: &str) -> Result<String, String> {
    parse_name(sent).map(|name| name.joined)
}

fn parse_name(sent: &str) -> Result<Name, String> {
    let shown = || {
        sent.chars()
            .take(MAX_NAME)
            .collect::<String>()
            .escape_debug()
            .to_string()
    };
    let rest = match sent.split_once(':') {
        Some((exchange, rest)) if exchange.eq_ignore_ascii_case("KRAKEN") => rest,
        Some(_) => {
            return Err(format!(
                "`{}` names another exchange; only KRAKEN pairs can be traded",
                shown()
            ))
        }
        None => sent,
    };
    let upper = rest.to_ascii_uppercase();
    if upper.ends_with(".P") {
        return Err(format!(
            "`{}` is a perpetual contract; tradehook trades Kraken spot pairs only",
            shown()
        ));
    }
    let parts: Vec<&str> = upper.split(['/', '-', '_']).collect();
    let valid_part = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric());
    if upper.len() < 4 || upper.len() > MAX_NAME || parts.len() > 2 || !parts.iter().all(valid_part)
    {
        return Err(format!(
            "`{}` is not a pair name such as XBTUSD, BTC/USD or KRAKEN:BTCUSD",
            shown()
        ));
    }
    Ok(Name {
        joined: parts.concat(),
        split: (parts.len() == 2).then(|| (parts[0].to_owned(), parts[1].to_owned())),
    })
}

/// Kraken's names for assets other platforms spell differently.
fn kraken_asset(asset: &str) -> &str {
    match asset {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        other => other,
    }
}

/// Whether the asset a user wrote is the Kraken asset `id` (`XXBT`, `ZUSD`, `SOL`).
fn same_asset(written: &str, id: &str) -> bool {
    let id = id.to_ascii_uppercase();
    written == id || kraken_asset(written) == short_asset(&id)
}

fn by_assets<'a>(table: &'a PairTable, base: &str, quote: &str) -> Vec<&'a PairInfo> {
    table
        .iter()
        .filter(|p| same_asset(base, &p.base) && same_asset(quote, &p.quote))
        .collect()
}

/// Resolves `sent` through `table`. `Err` names why the name cannot be used (bad
/// syntax, another exchange, a perpetual, or more than one matching pair).
pub fn resolve(table: &PairTable, sent: &str) -> Result<Resolution, String> {
    let name = parse_name(sent)?;
    let mut found: Vec<&PairInfo> = match &name.split {
        Some((base, quote)) => by_assets(table, base, quote),
        None => match table.get(&name.joined) {
            Some(pair) => vec![pair],
            None => (1..name.joined.len())
                .flat_map(|at| {
                    let (base, quote) = name.joined.split_at(at);
                    by_assets(table, base, quote)
                })
                .collect(),
        },
    };
    found.sort_by(|a, b| a.altname.cmp(&b.altname));
    found.dedup_by(|a, b| a.altname == b.altname);
    match found.as_slice() {
        [] => Ok(Resolution::Unknown(name.joined)),
        [pair] => Ok(Resolution::Pair(pair.altname.clone())),
        many => Err(format!(
            "`{}` is ambiguous: it could be any of {}; send the Kraken name",
            sent.escape_debug(),
            many.iter()
                .map(|p| p.altname.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(name: &str) -> Resolution {
        resolve(&PairTable::snapshot(), name).unwrap()
    }

    #[test]
    fn every_spelling_of_bitcoin_dollar_is_xbtusd() {
        for name in [
            "XBTUSD",
            "BTCUSD",
            "BTC/USD",
            "XBT/USD",
            "XXBTZUSD",
            "btc-usd",
            "KRAKEN:BTCUSD",
            "kraken:XBTUSD",
            "btc_usd",
        ] {
            assert_eq!(resolved(name), Resolution::Pair("XBTUSD".into()), "{name}");
        }
    }

    #[test]
    fn tether_is_never_the_dollar() {
        assert_eq!(resolved("BTCUSDT"), Resolution::Pair("XBTUSDT".into()));
        assert_eq!(resolved("ETH/USDT"), Resolution::Pair("ETHUSDT".into()));
        assert_eq!(resolved("SOLUSDT"), Resolution::Unknown("SOLUSDT".into()));
    }

    #[test]
    fn doge_is_xdg() {
        assert_eq!(resolved("DOGEUSD"), Resolution::Pair("XDGUSD".into()));
        assert_eq!(resolved("DOGE/USD"), Resolution::Pair("XDGUSD".into()));
    }

    #[test]
    fn perpetuals_other_exchanges_and_garbage_are_refused() {
        let table = PairTable::snapshot();
        for name in [
            "BTCUSD.P",
            "KRAKEN:BTCUSD.P",
            "BINANCE:BTCUSDT",
            "BTC/USD/EUR",
            "BTC USD",
            "B",
            "",
            "BTC/",
        ] {
            assert!(resolve(&table, name).is_err(), "{name:?}");
        }
        assert!(resolve(&table, "BTCUSD.P")
            .unwrap_err()
            .contains("perpetual"));
    }

    #[test]
    fn an_unknown_pair_stays_unknown() {
        assert_eq!(resolved("NOPEUSD"), Resolution::Unknown("NOPEUSD".into()));
    }

    #[test]
    fn an_ambiguous_name_is_refused_naming_the_candidates() {
        let template = PairTable::snapshot().get("XBTUSD").cloned().unwrap();
        let pair = |id: &str, base: &str, quote: &str| PairInfo {
            id: id.into(),
            altname: id.into(),
            wsname: None,
            base: base.into(),
            quote: quote.into(),
            ..template.clone()
        };
        let table =
            PairTable::from_pairs([pair("ABCDEF1", "ABC", "DEF"), pair("ABCDEF2", "ABCD", "EF")]);
        let err = resolve(&table, "ABCDEF").unwrap_err();
        assert!(err.contains("ABCDEF1") && err.contains("ABCDEF2"), "{err}");
        assert_eq!(
            resolve(&table, "ABC/DEF").unwrap(),
            Resolution::Pair("ABCDEF1".into())
        );
    }
}
