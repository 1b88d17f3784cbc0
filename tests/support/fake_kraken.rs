//! A fake Kraken REST API: a real HTTP server on 127.0.0.1, port 0, that behaves like
//! Kraken as SPEC §5 describes it, so the real client, signing and parsing are
//! exercised end to end.
//!
//! It checks `API-Key` and `API-Sign` over the raw body (with the crate's own
//! verifier), refuses a nonce that does not increase (`EAPI:Invalid nonce`), keeps
//! accepted orders, answers `OpenOrders`/`ClosedOrders` by `cl_ord_id` or `userref`,
//! keys `Ticker`/`AssetPairs` by canonical pair id, honours `deadline` and `validate`,
//! and can be scripted, per `AddOrder` call, to misbehave ([`Behaviour`]).
//!
//! ```ignore
//! let kraken = FakeKraken::start().await;
//! kraken.script(Behaviour::AcceptThen502);
//! let config = kraken.exchange_config(Mode::Live); // kraken_url, key and secret set
//! // ... run the client or the service against it, then inspect:
//! assert_eq!(kraken.order_count(), 1);
//! ```

mod handlers;
mod orders;
mod state;
pub(crate) mod ws_book;

pub use state::FakeOrder;
pub(crate) use state::{Shared, State};

/// The WebSocket token `GetWebSocketsToken` hands out.
pub const WS_TOKEN: &str = "fake-ws-token";
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rand::RngCore;
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use tradehook::config::{ExchangeConfig, Mode};
use tradehook::secret::Secret;

/// How the fake answers one `AddOrder` (after checking key, signature and nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Refuse with this Kraken error (e.g. `EOrder:Insufficient funds`); no order.
    Refuse(String),
    /// Answer this 5xx status with an HTML page; no order.
    ServerErrorHtml(u16),
    /// Accept the order, then answer `502 Bad Gateway` (HTML).
    AcceptThen502,
    /// Accept the order, then close the connection without any answer.
    AcceptThenDrop,
    /// Accept the order, then answer normally after this delay.
    AcceptThenDelay(Duration),
    /// Accept and answer normally, but keep the order out of lookups for this long.
    AcceptInvisibleFor(Duration),
    /// Take the request in but never let it reach the engine and never answer: a
    /// request lost on its way, as if the sender had died before it arrived.
    Blackhole,
    /// Accept the order, keep it out of lookups for this long, and answer `502`.
    AcceptInvisibleThen502(Duration),
    /// Accept the order, then hold the answer until [`FakeKraken::release_held`].
    AcceptThenHold,
    /// Answer with this 3xx status and a `Location` on the fake's `/elsewhere/...`,
    /// which counts as method `redirected` and would "place" the order if followed.
    Redirect(u16),
}

/// Closes the connection a request arrived on (for [`Behaviour::AcceptThenDrop`]).
#[derive(Clone)]
pub(crate) struct ConnectionKill(pub(crate) Arc<Notify>);

/// A running fake Kraken; the server stops when this is dropped.
pub struct FakeKraken {
    url: String,
    key: String,
    secret_b64: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeKraken {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeKraken {
    /// Starts a fake with a fresh random key and secret.
    pub async fn start() -> FakeKraken {
        let mut secret = vec![0u8; 64];
        rand::thread_rng().fill_bytes(&mut secret);
        let key = format!("fake-key-{}", uuid::Uuid::new_v4());
        let mut prices = HashMap::new();
        prices.insert("XXBTZUSD".to_owned(), Decimal::new(600_000, 1));
        prices.insert("XETHZUSD".to_owned(), Decimal::new(300_000, 2));
        let shared = Arc::new(Shared {
            key: key.clone(),
            secret: secret.clone(),
            state: Mutex::new(State::new(prices)),
            release: watch::channel(0).0,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(serve(listener, shared.clone()));
        FakeKraken {
            url,
            key,
            secret_b64: BASE64.encode(secret),
            shared,
            server,
        }
    }

    /// The shared state, for the WebSocket fake's order entry.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Base URL, for `exchange.kraken_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API key the fake accepts.
    pub fn api_key(&self) -> &str {
        &self.key
    }

    /// The API secret (base64) the fake verifies signatures with.
    pub fn api_secret(&self) -> &str {
        &self.secret_b64
    }

    /// An `[exchange]` section pointing at this fake, with its credentials.
    pub fn exchange_config(&self, mode: Mode) -> ExchangeConfig {
        ExchangeConfig {
            mode,
            kraken_url: self.url.clone(),
            api_key: Some(Secret::new(self.key.clone())),
            api_secret: Some(Secret::new(self.secret_b64.clone())),
            // The executions feed needs a WebSocket fake (tests/support/fake_kraken_ws.rs).
            executions_feed: false,
            ..ExchangeConfig::default()
        }
    }

    /// Queues how the next `AddOrder` calls are answered, in order; once the queue is
    /// empty, orders are accepted and answered normally.
    pub fn script(&self, behaviour: Behaviour) {
        self.shared.state().script.push_back(behaviour);
    }

    /// Lets every held answer go (and any held later by an earlier script entry).
    pub fn release_held(&self) {
        self.shared.release.send_modify(|epoch| *epoch += 1);
    }

    /// How many `AddOrder` answers are being held right now.
    pub fn held(&self) -> usize {
        self.shared.state().held
    }

    /// Every accepted order, oldest first.
    pub fn orders(&self) -> Vec<FakeOrder> {
        self.shared.state().orders.clone()
    }

    /// How many orders the fake holds.
    pub fn order_count(&self) -> usize {
        self.shared.state().orders.len()
    }

    /// The order with this `cl_ord_id`, if accepted.
    pub fn order_by_cl_ord_id(&self, cl_ord_id: &str) -> Option<FakeOrder> {
        let state = self.shared.state();
        state
            .orders
            .iter()
            .find(|o| o.cl_ord_id.as_deref() == Some(cl_ord_id))
            .cloned()
    }

    /// Marks an order closed (filled), as a market would.
    pub fn fill(&self, txid: &str) {
        let mut state = self.shared.state();
        if let Some(order) = state.orders.iter_mut().find(|o| o.txid == txid) {
            order.status = "closed".into();
        }
    }

    /// Adds `n` closed orders placed by someone else (another bot on the account),
    /// opened now, as if they had come through `AddOrder`.
    pub fn add_foreign_closed_orders(&self, n: usize) {
        let mut state = self.shared.state();
        for _ in 0..n {
            let order = FakeOrder {
                txid: format!("F{:05}-FOREIGN-KRAKEN", state.orders.len() + 1),
                cl_ord_id: Some(uuid::Uuid::new_v4().to_string()),
                userref: None,
                pair: "ETHUSD".into(),
                side: "sell".into(),
                ordertype: "market".into(),
                volume: "0.1".into(),
                price: None,
                status: "closed".into(),
                form: Vec::new(),
                opened_ms: state.now().timestamp_millis(),
                visible_from: std::time::Instant::now(),
            };
            state.orders.push(order);
        }
    }

    /// When the first `AddOrder` with each `cl_ord_id` arrived, as read off the wire
    /// (before its checks), for signal-to-wire latency measurements.
    pub fn add_order_arrivals(&self) -> HashMap<String, Instant> {
        self.shared.state().arrivals.clone()
    }

    /// Every nonce received on a private call, in arrival order (refused ones too).
    pub fn nonces(&self) -> Vec<u64> {
        self.shared.state().nonces.clone()
    }

    /// Sets the key's nonce window, as on Kraken (in nonce units: milliseconds for
    /// this client's nonces). 0, the default, accepts only increasing nonces.
    pub fn set_nonce_window(&self, window: u64) {
        self.shared.state().nonce_window = window;
    }

    /// Runs the fake's clock (`Time`, deadlines, `opentm`) this far ahead of real time
    /// (behind if negative).
    pub fn set_clock_skew(&self, skew: chrono::Duration) {
        self.shared.state().skew = skew;
    }

    /// Makes public `Time` answer `EService:Unavailable` (or answer again).
    pub fn fail_time(&self, fails: bool) {
        self.shared.state().time_fails = fails;
    }

    /// How many requests were refused with `EAPI:Invalid nonce`.
    pub fn invalid_nonces(&self) -> usize {
        self.shared.state().invalid_nonces
    }

    /// How many times a method (`AddOrder`, `Ticker`, ...) was called.
    pub fn calls(&self, method: &str) -> usize {
        self.shared.state().calls.get(method).copied().unwrap_or(0)
    }

    /// Every method called so far, with its count.
    pub fn methods_called(&self) -> BTreeMap<String, usize> {
        self.shared.state().calls.clone()
    }

    /// Sets the last trade price of a pair (any of its names).
    pub fn set_price(&self, pair: &str, price: Decimal) {
        let mut state = self.shared.state();
        let id = state.pairs.get(pair).map(|p| p.id.clone());
        if let Some(id) = id {
            state.prices.insert(id, price);
        }
    }

    /// Sets the balance of an asset (`XXBT`, `ZUSD`).
    pub fn set_balance(&self, asset: &str, amount: Decimal) {
        self.shared
            .state()
            .balances
            .insert(asset.to_owned(), amount);
    }

    /// Serves one more `AssetPairs` entry (Kraken's fields) under pair id `id`.
    pub fn add_pair(&self, id: &str, entry: serde_json::Value) {
        self.shared.state().extra_pairs.insert(id.to_owned(), entry);
    }

    /// Sets what open orders hold of an asset (`BalanceEx` `hold_trade`).
    pub fn set_hold_trade(&self, asset: &str, amount: Decimal) {
        self.shared.state().holds.insert(asset.to_owned(), amount);
    }
}

/// Accepts connections; each runs on its own task, which a handler can end abruptly
/// through [`ConnectionKill`] to drop the connection without an answer.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let router = handlers::router(shared);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let kill = Arc::new(Notify::new());
        let app = router
            .clone()
            .layer(axum::Extension(ConnectionKill(kill.clone())));
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {}
            }
        });
    }
}
