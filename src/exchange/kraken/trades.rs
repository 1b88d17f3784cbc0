//! REST `TradesHistory`: the account's trades since an instant, for filling the gap
//! a long disconnection of the executions feed leaves beyond the snapshot's last 50
//! trades. Kraken answers newest first, 50 a page, with the total in `count`; `start`
//! is exclusive, in unix seconds; `ofs` pages. Each trade's key is its trade id (the
//! `exec_id` the executions channel reports for the same trade), `ordertxid` the
//! order it belongs to, `fee` in the quote currency, `maker` whether it added
//! liquidity.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::calls::QUERY_MAX_WAIT;
use super::client::KrakenError;
use super::private::KrakenPrivate;
use super::rate_limit::Counter;
use super::ws_order::v2_symbol;
use crate::exchange::ExchangeTrade;
use crate::fills::Liquidity;
use crate::pairs::PairTable;

/// Trades per `TradesHistory` page (Kraken's page size).
const PAGE: usize = 50;
/// At most this many pages per gap fill (1,000 trades), so one resynchronisation
/// cannot spend the private rate counter without bound.
pub const MAX_PAGES: usize = 20;

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => Decimal::from_str(text).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// Kraken's `time` (unix seconds with a fraction) as an instant.
fn instant(value: &Value) -> Option<DateTime<Utc>> {
    let seconds = decimal(value)?;
    let millis = (seconds * Decimal::from(1000)).trunc();
    let millis = i64::try_from(millis).ok()?;
    Utc.timestamp_millis_opt(millis).single()
}

/// The fee's asset: the pair's quote currency as WebSocket v2 names it (`USD`), as
/// the executions channel reports fees; the pair id itself if it is not known.
fn fee_currency(pairs: &PairTable, pair: &str) -> String {
    match pairs.get(pair) {
        Some(info) => {
            let symbol = v2_symbol(info);
            symbol.rsplit('/').next().unwrap_or(&info.quote).to_owned()
        }
        None => pair.to_owned(),
    }
}

/// The trades of one `TradesHistory` result, and its `count`. Entries missing a
/// field this needs are skipped (logged).
pub fn parse_page(result: &Value, pairs: &PairTable) -> (Vec<ExchangeTrade>, usize) {
    let count = result["count"].as_u64().unwrap_or(0) as usize;
    let mut trades = Vec::new();
    let Some(map) = result["trades"].as_object() else {
        return (trades, count);
    };
    for (trade_id, entry) in map {
        let parsed = (|| {
            Some(ExchangeTrade {
                order_txid: entry["ordertxid"].as_str()?.to_owned(),
                trade_id: trade_id.clone(),
                volume: decimal(&entry["vol"])?,
                price: decimal(&entry["price"])?,
                fee: decimal(&entry["fee"]).unwrap_or_default(),
                fee_currency: fee_currency(pairs, entry["pair"].as_str().unwrap_or("")),
                liquidity: if entry["maker"] == true {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
                at: instant(&entry["time"])?,
            })
        })();
        match parsed {
            Some(trade) => trades.push(trade),
            None => {
                tracing::warn!(%trade_id, "TradesHistory: an entry without ordertxid, vol, price or time; skipped")
            }
        }
    }
    (trades, count)
}

impl KrakenPrivate {
    /// Every trade after `since` (up to [`MAX_PAGES`] pages), newest first.
    pub async fn trades_since(
        &self,
        since: DateTime<Utc>,
        pairs: &PairTable,
    ) -> Result<Vec<ExchangeTrade>, KrakenError> {
        let start = since.timestamp().to_string();
        let mut trades = Vec::new();
        for page in 0..MAX_PAGES {
            let ofs = (page * PAGE).to_string();
            let fields = [("start", start.clone()), ("ofs", ofs)];
            let result = self
                .call(
                    "TradesHistory",
                    &fields,
                    Counter::Private,
                    2.0,
                    QUERY_MAX_WAIT,
                )
                .await?;
            let (found, count) = parse_page(&result, pairs);
            let last_page = found.len() < PAGE;
            trades.extend(found);
            if last_page || trades.len() >= count {
                break;
            }
        }
        Ok(trades)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_trades_history_page_becomes_trades_with_the_quote_fee_currency() {
        let result = json!({"count": 2, "trades": {
            "TAAAAA-1": {"ordertxid": "OXX-1", "pair": "XXBTZUSD", "time": 1700000000.25,
                "type": "buy", "price": "40000.1", "vol": "0.01", "fee": "1.04", "maker": true},
            "TAAAAA-2": {"pair": "XXBTZUSD", "time": 1700000001.0, "price": "1", "vol": "1"}
        }});
        let (trades, count) = parse_page(&result, &PairTable::snapshot());
        assert_eq!(count, 2);
        assert_eq!(trades.len(), 1, "the entry without ordertxid is skipped");
        let t = &trades[0];
        assert_eq!(t.trade_id, "TAAAAA-1");
        assert_eq!(t.order_txid, "OXX-1");
        assert_eq!(t.price, Decimal::from_str("40000.1").unwrap());
        assert_eq!(t.fee_currency, "USD");
        assert_eq!(t.liquidity, Liquidity::Maker);
        assert_eq!(t.at.timestamp_millis(), 1_700_000_000_250);
    }
}
