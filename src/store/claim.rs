//! A claim: a new signal's idempotency check, risk verdict and first record, applied by
//! the writer inside its batch (see the `writer` module of [`crate::store`]).
//!
//! The verdict is taken against the writer's in-memory [`RiskLedger`], which already
//! holds every decision committed or made earlier in the same batch, and the record is
//! inserted with `ON CONFLICT DO NOTHING`: the first writer of a client order ID wins,
//! and a repeat finds the winner's record.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::orders::{self, NewOrder, OrderRecord};
use super::StoreError;
use crate::config::Config;
use crate::order::OrderStatus;
use crate::risk::ledger::{OrderFacts, RiskLedger, StateQuery};
use crate::risk::{self, MarketView, Verdict};
use crate::signal::Signal;

/// A signal to record, with everything needed to judge it.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The configuration the signal is judged by (its risk rules and sources).
    pub config: Arc<Config>,
    /// The source's configured name.
    pub source: String,
    pub signal: Signal,
    pub client_order_id: Uuid,
    /// SHA-256 of what the signal asks for, to tell a retry from a conflict.
    pub content_hash: String,
    /// Market data gathered before the claim (it may need the network).
    pub market: MarketView,
}

/// How a claim was answered.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// Recorded as `pending`; the executor now sends it.
    New(OrderRecord),
    /// The same signal was already recorded: its current record.
    Replay(OrderRecord),
    /// The client order ID is taken by a different signal.
    Conflict(OrderRecord),
    /// Refused by risk; recorded as `rejected`.
    Refused(OrderRecord),
}

/// A replay when `existing` is the same signal, else a conflict.
pub fn replay_or_conflict(existing: OrderRecord, content_hash: &str) -> Accepted {
    if existing.content_hash == content_hash {
        Accepted::Replay(existing)
    } else {
        Accepted::Conflict(existing)
    }
}

/// Kraken's `userref` (a positive 32-bit integer) for orders that cannot carry
/// `cl_ord_id`: 31 bits of a SHA-256 of the whole client order ID. Taking bits of the
/// ID itself collided for UUIDv7 IDs, whose leading bits are a timestamp.
pub fn userref_for(client_order_id: Uuid) -> i64 {
    let digest = Sha256::digest(client_order_id.as_bytes());
    let bits = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff;
    // Zero reads as "no userref" at Kraken.
    i64::from(bits.max(1))
}

/// What the ledger needs of a record.
pub fn facts(record: &OrderRecord) -> OrderFacts<'_> {
    OrderFacts {
        pair: &record.pair,
        source: &record.source,
        side: record.side,
        volume: record.volume,
        notional: record.notional,
        created_at: record.created_at,
    }
}

/// Judges and records `claim` inside the writer's transaction.
pub async fn apply(
    conn: &mut SqliteConnection,
    ledger: &mut RiskLedger,
    claim: &Claim,
    now: DateTime<Utc>,
) -> Result<Accepted, StoreError> {
    let source = claim
        .config
        .source(&claim.source)
        .ok_or_else(|| StoreError::Corrupt(format!("no source named {}", claim.source)))?;
    let (signal, market) = (&claim.signal, &claim.market);
    let state = ledger.state_for(&StateQuery::new(&source.name, signal, market, now));
    let verdict = risk::evaluate(&claim.config.risk, source, signal, market, &state, now);
    let pair = market
        .pair
        .as_ref()
        .map_or(signal.pair.as_str(), |p| p.altname.as_str());
    let mut new = NewOrder {
        client_order_id: claim.client_order_id,
        source: &source.name,
        signal,
        content_hash: &claim.content_hash,
        pair,
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
            new.userref = order
                .close
                .as_ref()
                .map(|_| userref_for(claim.client_order_id));
            new.deadline = now.checked_add_signed(claim.config.exchange.deadline());
            "accepted: passed risk checks, recorded before sending".to_owned()
        }
        Verdict::Refused { reasons } => {
            new.reasons = serde_json::to_value(reasons).unwrap_or_default();
            let rules: Vec<&str> = reasons.iter().map(|r| r.rule.as_str()).collect();
            format!("rejected by risk rules: {}", rules.join(", "))
        }
    };
    match orders::insert(conn, &new, &cause, now).await? {
        Some(record) => {
            ledger.on_insert(&facts(&record), record.status);
            Ok(if verdict.is_approved() {
                Accepted::New(record)
            } else {
                Accepted::Refused(record)
            })
        }
        None => {
            let existing = orders::find(conn, claim.client_order_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("a conflicting claim vanished".into()))?;
            Ok(replay_or_conflict(existing, &claim.content_hash))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userref_is_positive_and_stable() {
        for id in [Uuid::nil(), Uuid::from_u128(u128::MAX), Uuid::new_v4()] {
            let userref = userref_for(id);
            assert!(userref > 0 && userref <= i64::from(i32::MAX), "{userref}");
            assert_eq!(userref, userref_for(id));
        }
    }

    #[test]
    fn userrefs_of_ids_sharing_their_leading_bits_differ() {
        // UUIDv7 IDs made 1.5 s apart share their first 32 bits (a timestamp).
        let first = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let second = Uuid::from_u128(0x0190_0000_05dc_7000_8000_0000_0000_0002);
        assert_eq!(first.as_bytes()[..4], second.as_bytes()[..4]);
        assert_ne!(userref_for(first), userref_for(second));
    }
}
