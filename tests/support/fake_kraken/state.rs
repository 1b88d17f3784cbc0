//! The fake Kraken's state: accepted orders, nonces (with an optional nonce window,
//! as Kraken's API key setting), its clock (with a settable skew), and call counts.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::sync::watch;

use tradehook::pairs::PairTable;

use super::Behaviour;

/// An order the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOrder {
    pub txid: String,
    pub cl_ord_id: Option<String>,
    pub userref: Option<i64>,
    /// Altname (`XBTUSD`).
    pub pair: String,
    pub side: String,
    pub ordertype: String,
    pub volume: String,
    pub price: Option<String>,
    /// `open`, `closed` or `canceled`. Market orders close at once.
    pub status: String,
    /// Every form field as received (nonce included).
    pub form: Vec<(String, String)>,
    /// When it was accepted, on the fake's clock, in unix milliseconds (Kraken's
    /// `opentm` is seconds).
    pub opened_ms: i64,
    pub(crate) visible_from: Instant,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Accepted nonces, for refusing a repeat inside a nonce window.
    pub(crate) accepted: BTreeSet<u64>,
    /// Kraken's per-key nonce window, in nonce units (0: strictly increasing).
    pub(crate) nonce_window: u64,
    /// How far the fake's clock is ahead of the real one.
    pub(crate) skew: chrono::Duration,
    /// Whether public `Time` answers `EService:Unavailable`.
    pub(crate) time_fails: bool,
    pub(crate) pairs: PairTable,
    pub(crate) last_nonce: Option<u64>,
    pub(crate) nonces: Vec<u64>,
    pub(crate) invalid_nonces: usize,
    pub(crate) script: VecDeque<Behaviour>,
    pub(crate) orders: Vec<FakeOrder>,
    pub(crate) prices: HashMap<String, Decimal>,
    pub(crate) balances: BTreeMap<String, Decimal>,
    /// `BalanceEx` `hold_trade` by asset: what open orders hold of each balance.
    pub(crate) holds: BTreeMap<String, Decimal>,
    /// `AssetPairs` entries served besides the built-in snapshot's.
    pub(crate) extra_pairs: serde_json::Map<String, serde_json::Value>,
    pub(crate) calls: BTreeMap<String, usize>,
    pub(crate) held: usize,
    /// When the first `AddOrder` (or WebSocket `add_order`) carrying each `cl_ord_id`
    /// arrived (whatever its fate).
    pub(crate) arrivals: HashMap<String, std::time::Instant>,
    /// `TradesHistory` entries by trade id, in the order they traded.
    pub(crate) trades: Vec<(String, serde_json::Value)>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) key: String,
    pub(crate) secret: Vec<u8>,
    pub(crate) state: Mutex<State>,
    /// Bumped by `release_held`; held answers wait for it to change.
    pub(crate) release: watch::Sender<u64>,
}

impl State {
    pub(crate) fn new(prices: HashMap<String, Decimal>) -> Self {
        State {
            accepted: BTreeSet::new(),
            nonce_window: 0,
            skew: chrono::Duration::zero(),
            time_fails: false,
            pairs: PairTable::snapshot(),
            last_nonce: None,
            nonces: Vec::new(),
            invalid_nonces: 0,
            script: VecDeque::new(),
            orders: Vec::new(),
            prices,
            balances: BTreeMap::from([
                ("ZUSD".to_owned(), Decimal::new(100_000, 0)),
                ("XXBT".to_owned(), Decimal::new(15, 1)),
            ]),
            holds: BTreeMap::new(),
            extra_pairs: serde_json::Map::new(),
            calls: BTreeMap::new(),
            held: 0,
            arrivals: HashMap::new(),
            trades: Vec::new(),
        }
    }

    /// The fake's clock: real time plus the configured skew.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.skew
    }

    /// Records `nonce` and says whether Kraken would take it: above every nonce seen,
    /// or (with a nonce window) less than the window below the highest and not used.
    pub(crate) fn accept_nonce(&mut self, nonce: u64) -> bool {
        self.nonces.push(nonce);
        let highest = self.last_nonce.unwrap_or(0);
        let fresh = self.last_nonce.is_none() || nonce > highest;
        let in_window = highest - nonce.min(highest) < self.nonce_window;
        if !fresh && (!in_window || self.accepted.contains(&nonce)) {
            self.invalid_nonces += 1;
            return false;
        }
        self.accepted.insert(nonce);
        self.last_nonce = Some(highest.max(nonce));
        true
    }
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
