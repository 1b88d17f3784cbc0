//! Intake: from an authenticated, validated signal to a durable claim.
//!
//! The client order ID is derived, then the store's single writer looks it up
//! (idempotency), runs the risk rules and inserts the record with its first audit event
//! (see [`crate::store::claim`]). The batch holding it commits before anything is
//! sent: a signal that got a `202` exists on disk, and a retried webhook finds it
//! instead of making a second order.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{Config, SourceConfig};
use crate::exchange::Exchange;
use crate::risk::market::MarketData;
use crate::signal::Signal;
use crate::store::claim::{replay_or_conflict, Claim};
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
    /// The platform's own idempotency key from the body (TradingView `id`).
    Key(&'a str),
}

/// The client order ID: the signal's own, else a UUIDv5 of `(source, webhook-id)`,
/// `(source, the platform's idempotency key)` or `(source, SHA-256 of the body)`.
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
        Delivery::Key(key) => {
            name.extend_from_slice(b"key\n");
            name.extend_from_slice(key.as_bytes());
        }
    }
    Uuid::new_v5(&ID_NAMESPACE, &name)
}

/// SHA-256 of what the signal asks for, to tell a retry from a different signal
/// reusing a client order ID. What is kept for the audit only (the platform payload,
/// the pair as spelt) is left out: it does not change the order.
pub fn content_hash(source: &str, signal: &Signal) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update(b"\n");
    let mut order = signal.clone();
    order.payload = None;
    order.pair_sent = None;
    order.format = None;
    if order.percent.is_some() {
        // Computed from a balance that moves: a resend is the same signal.
        order.amount = crate::signal::Amount::Base(rust_decimal::Decimal::ZERO);
    }
    // Serialising a struct is deterministic: fields in declaration order.
    hasher.update(serde_json::to_vec(&order).unwrap_or_default());
    hex::encode(hasher.finalize())
}

pub use crate::store::claim::{userref_for, Accepted};

/// Records signals.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    config: Arc<Config>,
    exchange: Arc<dyn Exchange>,
    market: Arc<MarketData>,
}

impl Intake {
    /// Intake over `store`, deciding with `config`'s limits and market data from
    /// `exchange` (cached in `market`).
    pub fn new(
        store: Store,
        config: Arc<Config>,
        exchange: Arc<dyn Exchange>,
        market: Arc<MarketData>,
    ) -> Self {
        Intake {
            store,
            config,
            exchange,
            market,
        }
    }

    /// The pair table in use (refreshed from the exchange when due), for resolving
    /// the pair names signals use.
    pub async fn pair_table(&self) -> Arc<crate::pairs::PairTable> {
        self.market.pairs(&*self.exchange).await
    }

    /// The balance of `asset` available for trading (Kraken `BalanceEx`: not held by
    /// open orders; the paper balance in paper mode), cached a few seconds.
    pub async fn available_balance(
        &self,
        asset: &str,
    ) -> Result<rust_decimal::Decimal, crate::exchange::ExchangeError> {
        Ok(self
            .market
            .available_balance(&*self.exchange, asset)
            .await?
            .amount)
    }

    /// Claims `signal` under `client_order_id`. A retry of a recorded signal is answered
    /// from the read pool without waiting for the writer; otherwise market data is
    /// gathered (it may need the network) and the writer judges and records the claim
    /// in its next batch, answering once that batch is on disk.
    pub async fn accept(
        &self,
        source: &SourceConfig,
        signal: &Signal,
        client_order_id: Uuid,
    ) -> Result<Accepted, StoreError> {
        let hash = content_hash(&source.name, signal);
        if let Some(existing) = self.store.order(client_order_id).await? {
            return Ok(replay_or_conflict(existing, &hash));
        }
        let market = self
            .market
            .gather(&*self.exchange, &self.config.risk, signal)
            .await;
        let claim = Claim {
            config: self.config.clone(),
            source: source.name.clone(),
            signal: signal.clone(),
            client_order_id,
            content_hash: hash,
            market,
        };
        let accepted = self.store.claim(claim).await?;
        if let Accepted::Refused(record) = &accepted {
            crate::outcome_log::signal_refused(record);
        }
        Ok(accepted)
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
}
