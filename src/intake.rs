//! Intake: from an authenticated, validated signal to a durable claim.
//!
//! The client order ID is derived, then one serialised write transaction looks it up
//! (idempotency), runs the risk rules and inserts the record with its first audit event.
//! The transaction commits before anything is sent: a signal that got a `202` exists
//! on disk, and a retried webhook finds it instead of making a second order.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::config::{Config, SourceConfig};
use crate::exchange::Exchange;
use crate::order::OrderStatus;
use crate::risk::market::MarketData;
use crate::risk::state::StateQuery;
use crate::risk::{self, Verdict};
use crate::signal::Signal;
use crate::store::orders::{self, NewOrder, OrderRecord};
use crate::store::{Store, StoreError};

/// Namespace of the UUIDv5 client order IDs derived for signals that carry none.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x7d1c_6a3e_52f4_4a8e_9b0d_3c5e_1f2a_8b64);

/// What made a delivery unique, for deriving its client order ID.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    /// A Standard Webhooks delivery: its `webhook-id` is stable across retries.
    WebhookId(&'a str),
    /// Anything else: the raw body.
    Body(&'a [u8]),
}

/// The client order ID: the signal's own, else a UUIDv5 of `(source, webhook-id)` or
/// `(source, SHA-256 of the body)`.
pub fn client_order_id(source: &str, signal: &Signal, delivery: Delivery<'_>) -> Uuid {
    if let Some(id) = signal.client_order_id {
        return id;
    }
    let mut name = format!("{source}\n").into_bytes();
    match delivery {
        Delivery::WebhookId(id) => {
            name.extend_from_slice(b"webhook-id\n");
            name.extend_from_slice(id.as_bytes());
        }
        Delivery::Body(body) => {
            name.extend_from_slice(b"body-sha256\n");
            name.extend_from_slice(hex::encode(Sha256::digest(body)).as_bytes());
        }
    }
    Uuid::new_v5(&ID_NAMESPACE, &name)
}

/// SHA-256 of what the signal asks for, to tell a retry from a different signal
/// reusing a client order ID.
pub fn content_hash(source: &str, signal: &Signal) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update(b"\n");
    // Serialising a struct is deterministic: fields in declaration order.
    hasher.update(serde_json::to_vec(signal).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// Kraken's `userref` (a positive 32-bit integer) for orders that cannot carry
/// `cl_ord_id`, derived from the client order ID so it can be found after a crash.
pub fn userref_for(client_order_id: Uuid) -> i64 {
    let bytes = client_order_id.as_bytes();
    i64::from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & 0x7fff_ffff)
}

/// How intake answered a signal.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// Recorded as `pending`; the executor must now send it.
    New(OrderRecord),
    /// The same signal was already recorded: its current record.
    Replay(OrderRecord),
    /// The client order ID is taken by a different signal.
    Conflict(OrderRecord),
    /// Refused by risk; recorded as `rejected`.
    Refused(OrderRecord),
}

/// Records signals.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    clock: SharedClock,
    config: Arc<Config>,
    exchange: Arc<dyn Exchange>,
    market: Arc<MarketData>,
}

impl Intake {
    /// Intake over `store`, deciding with `config`'s limits and market data from
    /// `exchange` (cached in `market`).
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: Arc<Config>,
        exchange: Arc<dyn Exchange>,
        market: Arc<MarketData>,
    ) -> Self {
        Intake {
            store,
            clock,
            config,
            exchange,
            market,
        }
    }

    /// Claims `signal` under `client_order_id`: market data is gathered first (it may
    /// need the network); then one serialised transaction checks idempotency, reads the
    /// risk state, runs the rules and inserts the record.
    pub async fn accept(
        &self,
        source: &SourceConfig,
        signal: &Signal,
        client_order_id: Uuid,
    ) -> Result<Accepted, StoreError> {
        let hash = content_hash(&source.name, signal);
        if let Some(existing) = orders::get(self.store.reader(), client_order_id).await? {
            // A retry of a recorded signal needs neither market data nor the write lock.
            return Ok(replay_or_conflict(existing, &hash));
        }
        let market = self
            .market
            .gather(&*self.exchange, &self.config.risk, signal)
            .await;
        let mut tx = self.store.begin_write().await?;
        if let Some(existing) = orders::find(&mut tx, client_order_id).await? {
            tx.rollback().await?;
            return Ok(replay_or_conflict(existing, &hash));
        }
        // Read the clock under the write lock, so windows follow the commit order.
        let now = self.clock.now();
        let query = StateQuery::new(&source.name, signal, &market, now);
        let state = risk::state::load(&mut tx, &query).await?;
        let verdict = risk::evaluate(&self.config.risk, source, signal, &market, &state, now);
        let pair_name = market
            .pair
            .as_ref()
            .map_or(signal.pair.as_str(), |p| p.altname.as_str());
        let mut new = NewOrder {
            client_order_id,
            source: &source.name,
            signal,
            content_hash: &hash,
            pair: pair_name,
            volume: None,
            price: signal.price,
            notional: None,
            status: OrderStatus::Rejected,
            reasons: serde_json::Value::Array(Vec::new()),
            userref: None,
            deadline: None,
        };
        let cause = match &verdict {
            Verdict::Approved(order) => {
                new.status = OrderStatus::Pending;
                new.volume = Some(order.volume);
                new.price = order.price;
                new.notional = order.notional;
                new.userref = order.close.as_ref().map(|_| userref_for(client_order_id));
                new.deadline = Some(now + self.config.exchange.deadline());
                "accepted: passed risk checks, recorded before sending".to_owned()
            }
            Verdict::Refused { reasons } => {
                new.reasons = serde_json::to_value(reasons).unwrap_or_default();
                let rules: Vec<&str> = reasons.iter().map(|r| r.rule.as_str()).collect();
                format!("rejected by risk rules: {}", rules.join(", "))
            }
        };
        let record = orders::insert(&mut tx, &new, &cause, now).await?;
        tx.commit().await?;
        Ok(if verdict.is_approved() {
            Accepted::New(record)
        } else {
            Accepted::Refused(record)
        })
    }
}

fn replay_or_conflict(existing: OrderRecord, hash: &str) -> Accepted {
    if existing.content_hash == hash {
        Accepted::Replay(existing)
    } else {
        Accepted::Conflict(existing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::parse_signal;

    fn signal(json: &str) -> Signal {
        parse_signal(json.as_bytes()).unwrap().0
    }

    const BODY: &str = r#"{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1"}"#;

    #[test]
    fn explicit_client_order_id_wins() {
        let id = Uuid::new_v4();
        let s = signal(&format!(
            r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"1","client_order_id":"{id}"}}"#
        ));
        assert_eq!(client_order_id("a", &s, Delivery::WebhookId("msg_1")), id);
    }

    #[test]
    fn derived_ids_depend_on_source_and_delivery() {
        let s = signal(BODY);
        let a1 = client_order_id("a", &s, Delivery::WebhookId("msg_1"));
        assert_eq!(a1, client_order_id("a", &s, Delivery::WebhookId("msg_1")));
        assert_ne!(a1, client_order_id("b", &s, Delivery::WebhookId("msg_1")));
        assert_ne!(a1, client_order_id("a", &s, Delivery::WebhookId("msg_2")));
        let by_body = client_order_id("a", &s, Delivery::Body(BODY.as_bytes()));
        assert_eq!(
            by_body,
            client_order_id("a", &s, Delivery::Body(BODY.as_bytes()))
        );
        assert_ne!(by_body, client_order_id("a", &s, Delivery::Body(b"{}")));
        assert_eq!(a1.get_version_num(), 5);
    }

    #[test]
    fn content_hash_tells_different_signals_apart() {
        let one = signal(BODY);
        let two = signal(&BODY.replace("\"1\"", "\"2\""));
        assert_eq!(content_hash("a", &one), content_hash("a", &one.clone()));
        assert_ne!(content_hash("a", &one), content_hash("a", &two));
        assert_ne!(content_hash("a", &one), content_hash("b", &one));
    }

    #[test]
    fn userref_is_positive_and_stable() {
        let id = Uuid::from_u128(u128::MAX);
        assert_eq!(userref_for(id), i64::from(i32::MAX));
        assert_eq!(userref_for(id), userref_for(id));
    }
}
