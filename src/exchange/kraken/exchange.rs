//! [`KrakenExchange`]: the [`Exchange`] seam over Kraken's REST API, in validate or
//! live mode. One `AddOrder` per call, classified, its deadline on Kraken's clock;
//! lookups by `cl_ord_id`/`userref`, batched ([`super::batch`]).
//!
//! Keep one `KrakenExchange` per API key and share it (`Arc`): nonces are serialised
//! per key within the process either way, but one instance also shares its rate
//! model and connection pool.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use sqlx::SqlitePool;

use super::batch::LookupBatcher;
use super::client::{parse_reply, Http, KrakenError, Reply, SendError};
use super::clock_sync::{deadline_on_kraken, ClockWatch};
use super::errors;
use super::nonce::{NonceStore, SqliteNonceStore};
use super::order_form::add_order_fields;
use super::private::{KrakenPrivate, Limit, DEADLINE_MARGIN};
use super::public::KrakenPublic;
use super::rate_limit::{Counter, Headroom, RateLimiter};
use super::sign::Credentials;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{ExchangeConfig, Mode, Transport};
use crate::exchange::{
    Attempt, AttemptOutcome, ClockOffset, Exchange, ExchangeError, Lookup, OrderRequest,
};
use crate::pairs::{PairInfo, PairTable};

/// How long the first orders after start-up wait for the first sample of Kraken's
/// clock (one round trip to `Time`), rather than go with an uncorrected deadline.
const FIRST_CLOCK_SAMPLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Kraken in validate or live mode.
pub struct KrakenExchange {
    mode: Mode,
    public: KrakenPublic,
    private: Arc<KrakenPrivate>,
    clock: SharedClock,
    kraken_clock: ClockWatch,
    lookups: LookupBatcher,
    /// The `executions` feed (live mode with `exchange.executions_feed`), started
    /// when its stream is taken.
    feed: std::sync::Mutex<Option<super::ws::Feed>>,
    /// The order-entry socket, with `exchange.transport = "websocket"`.
    order_socket: Option<super::ws_entry::OrderSocket>,
}

impl std::fmt::Debug for KrakenExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KrakenExchange")
            .field("mode", &self.mode)
            .field("private", &self.private)
            .finish_non_exhaustive()
    }
}

impl KrakenExchange {
    /// A client for `config`, persisting nonces in `store`.
    ///
    /// Refuses paper mode (nothing may reach the private API then) and missing or
    /// malformed credentials.
    pub fn new(config: &ExchangeConfig, store: Arc<dyn NonceStore>) -> Result<Self, KrakenError> {
        Self::with_clock(config, store, Arc::new(SystemClock))
    }

    /// A client persisting nonces in the `nonces` table of `pool`.
    pub fn with_sqlite(config: &ExchangeConfig, pool: SqlitePool) -> Result<Self, KrakenError> {
        Self::new(config, Arc::new(SqliteNonceStore::new(pool)))
    }

    /// As [`KrakenExchange::new`], with the clock used for nonces, timeouts and
    /// `EService:Throttled` waits.
    pub fn with_clock(
        config: &ExchangeConfig,
        store: Arc<dyn NonceStore>,
        clock: SharedClock,
    ) -> Result<Self, KrakenError> {
        if config.mode == Mode::Paper {
            return Err(KrakenError::Config(
                "paper mode never uses Kraken's private API".into(),
            ));
        }
        let (Some(key), Some(secret)) = (&config.api_key, &config.api_secret) else {
            return Err(KrakenError::Config(
                "exchange.api_key and exchange.api_secret are required".into(),
            ));
        };
        let credentials = Credentials::new(key.clone(), secret)
            .map_err(|e| KrakenError::Config(e.to_string()))?;
        let http = Http::new(&config.kraken_url)?;
        let limiter = Arc::new(RateLimiter::new(config.tier));
        let public = KrakenPublic::with_http(http.clone());
        let kraken_clock = ClockWatch::start(public.clone(), clock.clone());
        let private = Arc::new(KrakenPrivate::new(
            http,
            credentials,
            store,
            limiter,
            clock.clone(),
        ));
        let feed = (config.mode == Mode::Live && config.executions_feed).then(|| super::ws::Feed {
            url: config.kraken_ws_url.clone(),
            private: private.clone(),
            min_backoff: super::ws::MIN_BACKOFF,
            max_backoff: super::ws::MAX_BACKOFF,
        });
        let order_socket = (config.transport == Transport::Websocket).then(|| {
            super::ws_entry::OrderSocket::new(config.kraken_ws_url.clone(), private.clone())
        });
        Ok(KrakenExchange {
            order_socket,
            feed: std::sync::Mutex::new(feed),
            mode: config.mode,
            lookups: LookupBatcher::new(private.clone(), kraken_clock.clone()),
            kraken_clock,
            public,
            private,
            clock,
        })
    }

    /// The public market-data calls.
    pub fn public(&self) -> &KrakenPublic {
        &self.public
    }

    /// The signed calls (`OpenOrders`, `CancelOrder`, ...).
    pub fn private(&self) -> &KrakenPrivate {
        &self.private
    }

    /// Current rate-limit counter levels and maxima, for metrics.
    pub fn headroom(&self) -> Headroom {
        self.private.limiter().headroom()
    }

    fn classify(
        &self,
        order: &OrderRequest,
        reply: &Result<super::client::RawReply, SendError>,
    ) -> AttemptOutcome {
        let raw = match reply {
            Err(SendError::NotSent(reason)) => {
                return AttemptOutcome::NotSent {
                    reason: reason.clone(),
                }
            }
            Err(SendError::MaybeSent(reason)) => {
                return AttemptOutcome::Ambiguous {
                    reason: reason.clone(),
                }
            }
            Ok(raw) => raw,
        };
        match parse_reply(raw) {
            Reply::Ok(_) if self.mode == Mode::Validate => AttemptOutcome::Validated,
            Reply::Ok(result) => match result
                .get("txid")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
            {
                Some(txid) => AttemptOutcome::Placed {
                    txid: txid.to_owned(),
                },
                None => AttemptOutcome::Ambiguous {
                    reason: "Kraken accepted the request but returned no txid".into(),
                },
            },
            Reply::Errors(errors) => {
                if errors.iter().any(|e| errors::is_rate_limit(e)) {
                    let counter = Counter::Trading(order.pair.altname.clone());
                    self.private.limiter().saturate(&counter);
                }
                errors::outcome(&errors, self.clock.now())
            }
            Reply::Malformed(reason) => AttemptOutcome::Ambiguous { reason },
        }
    }
}

/// The form fields as a JSON object, for the audit trail.
fn fields_json(fields: &[super::order_form::Field]) -> Value {
    let request: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    Value::Object(request)
}

#[async_trait]
impl Exchange for KrakenExchange {
    async fn add_order(&self, order: &OrderRequest) -> Attempt {
        let started = Instant::now();
        let validate = self.mode == Mode::Validate;
        // The engine judges `deadline` on Kraken's clock: send our instant as it
        // reads there. Timeouts below stay on our clock, like the deadline itself.
        let offset = self.kraken_clock.first(FIRST_CLOCK_SAMPLE_WAIT).await;
        let mut on_kraken = order.clone();
        on_kraken.deadline = deadline_on_kraken(order.deadline, offset, self.clock.now());
        let fields = match add_order_fields(&on_kraken, validate) {
            Ok(fields) => fields,
            Err(err) => {
                return Attempt {
                    request: json!({"cl_ord_id": order.client_order_id, "pair": order.pair.altname}),
                    response: None,
                    elapsed: started.elapsed(),
                    outcome: AttemptOutcome::Refused {
                        error: format!("not sent: {err}"),
                    },
                }
            }
        };
        let until_deadline = (order.deadline - self.clock.now())
            .to_std()
            .unwrap_or_default();
        let give_up_at = started + until_deadline.saturating_sub(DEADLINE_MARGIN);
        let counter = Counter::Trading(order.pair.altname.clone());
        if let Err(wait) = self
            .private
            .limiter()
            .acquire(&counter, 1.0, Some(give_up_at))
            .await
        {
            return Attempt {
                request: fields_json(&fields),
                response: None,
                elapsed: started.elapsed(),
                outcome: AttemptOutcome::RetryLater {
                    error: "client-side rate limit: Kraken would refuse this order now".into(),
                    retry_after: Some(wait),
                },
            };
        }
        if let Some(socket) = &self.order_socket {
            let wait = give_up_at.saturating_duration_since(Instant::now());
            let (request, sent) = socket.add_order(&on_kraken, &fields, wait).await;
            let (response, outcome) = super::ws_entry::outcome(sent, validate, self.clock.now());
            let error = response.as_ref().and_then(|r| r["error"].as_str());
            if error.is_some_and(errors::is_rate_limit) {
                let counter = Counter::Trading(order.pair.altname.clone());
                self.private.limiter().saturate(&counter);
            }
            let request = if request.is_null() {
                fields_json(&fields)
            } else {
                request
            };
            return Attempt {
                request,
                response: response.map(|r| r.to_string()),
                elapsed: started.elapsed(),
                outcome,
            };
        }
        let sent = self
            .private
            .send("AddOrder", &fields, Limit::Deadline(order.deadline))
            .await;
        let outcome = self.classify(order, &sent.reply);
        Attempt {
            response: sent.reply.as_ref().ok().map(|raw| raw.body.clone()),
            request: sent.request,
            elapsed: started.elapsed(),
            outcome,
        }
    }

    async fn cancel_order(
        &self,
        order: &crate::exchange::cancel::CancelRequest,
    ) -> crate::exchange::cancel::CancelAttempt {
        super::cancel::cancel(&self.private, order).await
    }

    async fn order_states(
        &self,
        txids: &[String],
    ) -> Result<HashMap<String, String>, ExchangeError> {
        let mut states = HashMap::new();
        // QueryOrders takes at most 50 txids.
        for chunk in txids.chunks(50) {
            let found = self
                .private
                .query_orders(chunk)
                .await
                .map_err(|e| ExchangeError(e.to_string()))?;
            if let Some(map) = found.as_object() {
                for (txid, order) in map {
                    if let Some(status) = order["status"].as_str() {
                        states.insert(txid.clone(), status.to_owned());
                    }
                }
            }
        }
        Ok(states)
    }

    async fn trades_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::exchange::ExchangeTrade>, ExchangeError> {
        // The live pair table names fee currencies; the built-in one if unreachable.
        let pairs = self
            .public
            .asset_pairs()
            .await
            .unwrap_or_else(|_| PairTable::snapshot());
        self.private
            .trades_since(since, &pairs)
            .await
            .map_err(|e| ExchangeError(e.to_string()))
    }

    fn take_fills(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::fills::ExecutionEvent>> {
        let feed = self
            .feed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()?;
        let (events, stream) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(feed.run(events));
        Some(stream)
    }

    async fn find_order(&self, order: &OrderRequest) -> Lookup {
        self.lookups.find(order).await
    }

    async fn last_price(&self, pair: &PairInfo) -> Result<Decimal, ExchangeError> {
        self.public
            .last_price(pair)
            .await
            .map_err(|e| ExchangeError(e.to_string()))
    }

    async fn balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        self.private
            .balance()
            .await
            .map_err(|e| ExchangeError(e.to_string()))
    }

    async fn available_balances(&self) -> Result<HashMap<String, Decimal>, ExchangeError> {
        self.private
            .balance_ex()
            .await
            .map_err(|e| ExchangeError(e.to_string()))
    }

    async fn asset_pairs(&self) -> Result<PairTable, ExchangeError> {
        self.public
            .asset_pairs()
            .await
            .map_err(|e| ExchangeError(e.to_string()))
    }

    fn rate_limit_headroom(&self) -> Option<Headroom> {
        Some(self.headroom())
    }

    fn clock_offset(&self) -> Option<ClockOffset> {
        self.kraken_clock.latest()
    }
}
