//! Kraken pair metadata (`AssetPairs`): names, precision and exchange minimums.
//!
//! A snapshot of common pairs ships in the binary so paper mode works offline; the
//! live `AssetPairs` answer, parsed by the same code, replaces it when reachable.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Kraken's `AssetPairs` result for a handful of common pairs, as of this release.
const SNAPSHOT: &str = include_str!("pairs_snapshot.json");

/// Most decimal places a [`Decimal`] carries. A pair claiming more could not be rounded
/// to (`Decimal::new(1, 29)` panics), so such a pair is left out of the table.
pub const MAX_DECIMALS: u32 = 28;

/// What this service needs to know about one Kraken pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairInfo {
    /// Kraken's canonical pair id, the key of its result maps (`XXBTZUSD`).
    #[serde(default)]
    pub id: String,
    /// The alternate name, which this service uses everywhere (`XBTUSD`).
    pub altname: String,
    /// The websocket name (`XBT/USD`).
    #[serde(default)]
    pub wsname: Option<String>,
    /// Base asset id as Kraken's `Balance` names it (`XXBT`).
    pub base: String,
    /// Quote asset id (`ZUSD`).
    pub quote: String,
    /// Decimal places of a price.
    pub pair_decimals: u32,
    /// Decimal places of a volume.
    pub lot_decimals: u32,
    /// Smallest order volume Kraken accepts.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub ordermin: Option<Decimal>,
    /// Smallest order cost (volume × price, in quote currency) Kraken accepts.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub costmin: Option<Decimal>,
    /// Smallest price increment.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub tick_size: Option<Decimal>,
    /// `online`, `cancel_only`, `post_only`, `limit_only`, `reduce_only`.
    #[serde(default)]
    pub status: Option<String>,
}

impl PairInfo {
    /// The base asset in the short form operators write in config (`XBT` for `XXBT`).
    pub fn base_asset(&self) -> String {
        short_asset(&self.base)
    }

    /// The quote asset in its short form (`USD` for `ZUSD`).
    pub fn quote_asset(&self) -> String {
        short_asset(&self.quote)
    }

    /// Why this pair's metadata cannot be traded on, if it cannot: the exchange's
    /// answer is checked once here rather than at every use.
    pub fn defect(&self) -> Option<String> {
        [
            ("pair_decimals", self.pair_decimals),
            ("lot_decimals", self.lot_decimals),
        ]
        .into_iter()
        .find(|(_, places)| *places > MAX_DECIMALS)
        .map(|(name, places)| format!("{name} {places} is above {MAX_DECIMALS}"))
    }
}

/// Kraken's legacy four-letter asset ids carry an `X` (crypto) or `Z` (fiat) prefix:
/// `XXBT` → `XBT`, `ZUSD` → `USD`. Newer ids (`SOL`, `USDT`) have none.
pub fn short_asset(id: &str) -> String {
    let bytes = id.as_bytes();
    if id.len() == 4 && (bytes[0] == b'X' || bytes[0] == b'Z') {
        id[1..].to_owned()
    } else {
        id.to_owned()
    }
}

/// The Kraken asset id (`XXBT`, `ZUSD`) of an asset as operators write it (`XBT`,
/// `USD`; `BTC` too), as the pairs of `table` name it; unknown ones as written.
pub fn asset_id(table: &PairTable, asset: &str) -> String {
    let asset = asset.to_ascii_uppercase();
    let wanted = match asset.as_str() {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        other => other,
    };
    table
        .iter()
        .flat_map(|p| [&p.base, &p.quote])
        .find(|id| id.as_str() == wanted || short_asset(id) == wanted)
        .cloned()
        .unwrap_or(asset)
}

/// Pair metadata indexed by every name a signal may use.
#[derive(Debug, Clone, Default)]
pub struct PairTable {
    pairs: Vec<PairInfo>,
    by_name: HashMap<String, usize>,
}

impl PairTable {
    /// The table built into the binary.
    pub fn snapshot() -> Self {
        // The snapshot is a constant checked by `snapshot_parses` below.
        Self::from_kraken_result(SNAPSHOT).unwrap_or_default()
    }

    /// Parses the `result` object of Kraken's `AssetPairs` (keyed by canonical id).
    pub fn from_kraken_result(json: &str) -> Result<Self, serde_json::Error> {
        let raw: HashMap<String, PairInfo> = serde_json::from_str(json)?;
        Ok(Self::from_pairs(raw.into_iter().map(|(id, mut info)| {
            info.id = id;
            info
        })))
    }

    /// Builds the table from parsed entries, leaving out (with a warning) any entry
    /// whose precision a decimal cannot hold: its orders are then refused as an unknown
    /// pair instead of panicking when rounded.
    pub fn from_pairs(pairs: impl IntoIterator<Item = PairInfo>) -> Self {
        let mut table = PairTable::default();
        for info in pairs {
            if let Some(defect) = info.defect() {
                tracing::warn!(pair = %info.altname, %defect, "pair left out of the pair table");
                continue;
            }
            let idx = table.pairs.len();
            let mut names = vec![info.id.clone(), info.altname.clone()];
            if let Some(ws) = &info.wsname {
                names.push(ws.replace('/', ""));
            }
            for name in names {
                table.by_name.insert(name.to_ascii_uppercase(), idx);
            }
            table.pairs.push(info);
        }
        table
    }

    /// Looks a pair up by altname, canonical id or wsname (with or without `/`).
    pub fn get(&self, name: &str) -> Option<&PairInfo> {
        let key = name.to_ascii_uppercase().replace('/', "");
        self.by_name.get(&key).map(|&idx| &self.pairs[idx])
    }

    /// Every pair in the table.
    pub fn iter(&self) -> impl Iterator<Item = &PairInfo> {
        self.pairs.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_parses() {
        let table = PairTable::from_kraken_result(SNAPSHOT).unwrap();
        assert!(table.iter().count() >= 5);
    }

    #[test]
    fn pairs_are_found_by_every_name() {
        let table = PairTable::snapshot();
        for name in ["XBTUSD", "XXBTZUSD", "XBT/USD", "xbtusd"] {
            assert_eq!(table.get(name).unwrap().altname, "XBTUSD", "{name}");
        }
        assert!(table.get("NOPEUSD").is_none());
    }

    #[test]
    fn configured_asset_names_map_to_kraken_asset_ids() {
        let table = PairTable::snapshot();
        assert_eq!(asset_id(&table, "USD"), "ZUSD");
        assert_eq!(asset_id(&table, "xbt"), "XXBT");
        assert_eq!(asset_id(&table, "BTC"), "XXBT");
        assert_eq!(asset_id(&table, "USDT"), "USDT");
        assert_eq!(asset_id(&table, "NOPE"), "NOPE");
    }

    #[test]
    fn legacy_asset_prefixes_are_stripped() {
        assert_eq!(short_asset("XXBT"), "XBT");
        assert_eq!(short_asset("ZUSD"), "USD");
        assert_eq!(short_asset("SOL"), "SOL");
        assert_eq!(short_asset("USDT"), "USDT");
    }

    #[test]
    fn pairs_with_more_decimals_than_a_decimal_holds_are_left_out() {
        let xbt = PairTable::snapshot().get("XBTUSD").cloned().unwrap();
        let eth = PairTable::snapshot().get("ETHUSD").cloned().unwrap();
        let mut wide_price = xbt.clone();
        wide_price.pair_decimals = 29;
        let mut wide_lot = eth.clone();
        wide_lot.lot_decimals = u32::MAX;
        let table = PairTable::from_pairs([wide_price, wide_lot]);
        assert!(table.get("XBTUSD").is_none());
        assert!(table.get("ETHUSD").is_none());
        let mut edge = xbt;
        edge.pair_decimals = MAX_DECIMALS;
        edge.lot_decimals = MAX_DECIMALS;
        let table = PairTable::from_pairs([edge]);
        assert!(table.get("XBTUSD").is_some(), "28 places still fit");
    }

    #[test]
    fn an_asset_pairs_answer_with_a_bad_precision_keeps_the_other_pairs() {
        let json = r#"{
            "XXBTZUSD": {"altname": "XBTUSD", "base": "XXBT", "quote": "ZUSD",
                         "pair_decimals": 1, "lot_decimals": 8},
            "BADUSD": {"altname": "BADUSD", "base": "BAD", "quote": "ZUSD",
                       "pair_decimals": 40, "lot_decimals": 8}
        }"#;
        let table = PairTable::from_kraken_result(json).unwrap();
        assert!(table.get("XBTUSD").is_some());
        assert!(table.get("BADUSD").is_none());
    }
}
