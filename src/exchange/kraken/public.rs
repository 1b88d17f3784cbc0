//! Kraken's public market data: `Ticker`, `AssetPairs`, `SystemStatus`, `Time`.
//!
//! Needs no key, so paper mode uses it too when Kraken is reachable. Results are keyed
//! by Kraken's canonical pair id (`XXBTZUSD` for a request of `XBTUSD`): they are
//! never indexed by the name that was asked for.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::client::{into_result, Http, KrakenError, DEFAULT_TIMEOUT};
use crate::pairs::{PairInfo, PairTable};

/// Kraken's `SystemStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemStatus {
    /// `online`, `maintenance`, `cancel_only` or `post_only`.
    pub status: String,
    pub timestamp: Option<DateTime<Utc>>,
}

/// The public half of the Kraken API.
#[derive(Debug, Clone)]
pub struct KrakenPublic {
    http: Http,
}

impl KrakenPublic {
    /// A client for `base_url` (e.g. `https://api.kraken.com`).
    pub fn new(base_url: &str) -> Result<Self, KrakenError> {
        Ok(KrakenPublic {
            http: Http::new(base_url)?,
        })
    }

    /// Shares an existing HTTP client (and its connection pool).
    pub fn with_http(http: Http) -> Self {
        KrakenPublic { http }
    }

    async fn call(&self, method: &str, query: &[(&str, &str)]) -> Result<Value, KrakenError> {
        self.call_within(method, query, DEFAULT_TIMEOUT).await
    }

    async fn call_within(
        &self,
        method: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Value, KrakenError> {
        let path = format!("/0/public/{method}");
        into_result(self.http.get(&path, query, timeout).await)
    }

    /// The last trade price (`c[0]`) of `pair`.
    pub async fn last_price(&self, pair: &PairInfo) -> Result<Decimal, KrakenError> {
        let result = self.call("Ticker", &[("pair", &pair.altname)]).await?;
        let entry = pick_pair_entry(&result, pair)?;
        let price = entry
            .get("c")
            .and_then(|c| c.get(0))
            .and_then(Value::as_str)
            .ok_or_else(|| KrakenError::Parse("Ticker entry has no c[0]".into()))?;
        Decimal::from_str(price).map_err(|e| KrakenError::Parse(format!("Ticker c[0]: {e}")))
    }

    /// Every pair's metadata. Entries that do not parse are skipped, so one odd new
    /// pair cannot take the whole table down.
    pub async fn asset_pairs(&self) -> Result<PairTable, KrakenError> {
        let result = self.call("AssetPairs", &[]).await?;
        parse_asset_pairs(result)
    }

    /// Whether Kraken is online, in maintenance, or in a restricted mode.
    pub async fn system_status(&self) -> Result<SystemStatus, KrakenError> {
        let result = self.call("SystemStatus", &[]).await?;
        let status = result
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| KrakenError::Parse("SystemStatus has no status".into()))?
            .to_owned();
        let timestamp = result
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(SystemStatus { status, timestamp })
    }

    /// Kraken's clock, in whole seconds (`unixtime`; `rfc1123` has no more precision).
    pub async fn server_time(&self) -> Result<DateTime<Utc>, KrakenError> {
        self.server_time_within(DEFAULT_TIMEOUT).await
    }

    /// [`KrakenPublic::server_time`] with its own timeout: a clock sample whose
    /// answer takes long is worthless anyway.
    pub async fn server_time_within(
        &self,
        timeout: Duration,
    ) -> Result<DateTime<Utc>, KrakenError> {
        let result = self.call_within("Time", &[], timeout).await?;
        result
            .get("unixtime")
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or_else(|| KrakenError::Parse("Time has no unixtime".into()))
    }
}

/// The entry for `pair` in a result keyed by canonical pair id: the single entry if
/// there is one, else the one keyed by the pair's id or altname.
pub fn pick_pair_entry<'a>(result: &'a Value, pair: &PairInfo) -> Result<&'a Value, KrakenError> {
    let map = result
        .as_object()
        .ok_or_else(|| KrakenError::Parse("result is not an object".into()))?;
    if map.len() == 1 {
        if let Some(entry) = map.values().next() {
            return Ok(entry);
        }
    }
    [&pair.id, &pair.altname]
        .into_iter()
        .filter(|name| !name.is_empty())
        .find_map(|name| map.get(name.as_str()))
        .ok_or_else(|| KrakenError::Parse(format!("no entry for {} in the answer", pair.altname)))
}

/// Builds a [`PairTable`] from `AssetPairs`' result, skipping unparsable entries.
pub fn parse_asset_pairs(result: Value) -> Result<PairTable, KrakenError> {
    let Value::Object(map) = result else {
        return Err(KrakenError::Parse(
            "AssetPairs result is not an object".into(),
        ));
    };
    let pairs: Vec<PairInfo> = map
        .into_iter()
        .filter_map(|(id, entry)| {
            let mut info: PairInfo = serde_json::from_value(entry).ok()?;
            info.id = id;
            Some(info)
        })
        .collect();
    if pairs.is_empty() {
        return Err(KrakenError::Parse(
            "AssetPairs returned no usable pair".into(),
        ));
    }
    Ok(PairTable::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn xbtusd() -> PairInfo {
        PairTable::snapshot().get("XBTUSD").unwrap().clone()
    }

    #[test]
    fn a_single_entry_is_taken_whatever_its_key() {
        let result = json!({"XXBTZUSD": {"c": ["1", "2"]}});
        assert_eq!(pick_pair_entry(&result, &xbtusd()).unwrap()["c"][0], "1");
    }

    #[test]
    fn several_entries_are_matched_by_canonical_id_never_by_position() {
        let result = json!({"XETHZUSD": {"c": ["2"]}, "XXBTZUSD": {"c": ["1"]}});
        assert_eq!(pick_pair_entry(&result, &xbtusd()).unwrap()["c"][0], "1");
        let result = json!({"XETHZUSD": {"c": ["2"]}, "XLTCZUSD": {"c": ["3"]}});
        assert!(pick_pair_entry(&result, &xbtusd()).is_err());
    }

    #[test]
    fn asset_pairs_skip_entries_that_do_not_parse() {
        let result = json!({
            "XXBTZUSD": {"altname": "XBTUSD", "base": "XXBT", "quote": "ZUSD",
                         "pair_decimals": 1, "lot_decimals": 8, "fees": [[0, 0.26]]},
            "BROKEN": {"altname": 5}
        });
        let table = parse_asset_pairs(result).unwrap();
        assert_eq!(table.get("XBTUSD").unwrap().id, "XXBTZUSD");
        assert!(table.get("BROKEN").is_none());
    }
}
