//! A claim: a new signal's idempotency check, risk verdict and first record, applied by
//! the writer inside its batch (see the `writer` module of [`crate::store`]).
//!
//! The verdict is taken against the writer's in-memory [`RiskLedger`], which already
//! holds every decision committed or made earlier in the same batch. The first claim of
//! a client order ID wins; a repeat (recorded before, or earlier in the batch) is
//! answered with the winner's record.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::batch::{EventText, Plan};
use super::orders::OrderRecord;
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
        id: record.id,
        client_order_id: record.client_order_id,
        filled: record.execution.filled_volume,
        pair: &record.pair,
        source: &record.source,
        side: record.side,
        volume: record.volume,
        notional: record.notional,
        created_at: record.created_at,
        can_rest: record.order_type != crate::signal::OrderType::Market,
    }
}

/// How a claim was decided, before the batch is written (row ids are not known yet).
#[derive(Debug, Clone)]
pub enum Planned {
    /// Inserted as the n-th new order of the batch; `true` when approved.
    Inserted(usize, bool),
    /// Its ID was claimed earlier in the same batch, as the n-th new order.
    Repeat(usize),
    /// Its ID is already recorded.
    Recorded(Box<OrderRecord>),
}

impl Planned {
    /// The answer, once `plan` is written.
    pub fn resolve(self, plan: &Plan, content_hash: &str) -> Accepted {
        match self {
            Planned::Inserted(index, true) => Accepted::New(plan.inserted(index).clone()),
            Planned::Inserted(index, false) => Accepted::Refused(plan.inserted(index).clone()),
            Planned::Repeat(index) => {
                replay_or_conflict(plan.inserted(index).clone(), content_hash)
            }
            Planned::Recorded(existing) => replay_or_conflict(*existing, content_hash),
        }
    }
}

/// Judges `claim` against the ledger and adds its record to `plan`. `recorded` is the
/// order already holding its client order ID, if any; `claimed` maps the IDs claimed
/// earlier in this batch to their place in the plan. Pure: no I/O.
pub fn plan(
    plan: &mut Plan,
    ledger: &mut RiskLedger,
    claim: &Claim,
    recorded: Option<&OrderRecord>,
    claimed: &mut HashMap<Uuid, usize>,
    now: DateTime<Utc>,
) -> Result<Planned, StoreError> {
    if let Some(existing) = recorded {
        return Ok(Planned::Recorded(Box::new(existing.clone())));
    }
    if let Some(index) = claimed.get(&claim.client_order_id) {
        return Ok(Planned::Repeat(*index));
    }
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
    let mut record = OrderRecord {
        id: 0,
        client_order_id: claim.client_order_id,
        source: source.name.clone(),
        strategy: signal.strategy.clone(),
        pair: pair.to_owned(),
        side: signal.side,
        order_type: signal.order_type,
        volume: None,
        price: signal.price,
        notional: None,
        status: OrderStatus::Rejected,
        txid: None,
        error: None,
        reasons: serde_json::Value::Array(Vec::new()),
        userref: None,
        deadline: None,
        resends: 0,
        created_at: now,
        updated_at: now,
        execution: crate::fills::Execution::default(),
        signal: signal.clone(),
        content_hash: claim.content_hash.clone(),
    };
    let cause = match &verdict {
        Verdict::Approved(order) => {
            record.status = OrderStatus::Pending;
            record.volume = Some(order.volume);
            record.price = order.price;
            record.notional = order.notional;
            record.userref = order
                .close
                .as_ref()
                .map(|_| userref_for(claim.client_order_id));
            record.deadline = now.checked_add_signed(claim.config.exchange.deadline());
            "accepted: passed risk checks, recorded before sending".to_owned()
        }
        Verdict::Refused { reasons } => {
            record.reasons = serde_json::to_value(reasons).unwrap_or_default();
            let rules: Vec<&str> = reasons.iter().map(|r| r.rule.as_str()).collect();
            format!("rejected by risk rules: {}", rules.join(", "))
        }
    };
    ledger.on_insert(&facts(&record), record.status);
    let status = record.status;
    let index = plan.insert(record);
    plan.event_for_new(
        index,
        status,
        EventText {
            cause,
            ..EventText::default()
        },
        now,
    );
    claimed.insert(claim.client_order_id, index);
    Ok(Planned::Inserted(index, verdict.is_approved()))
}

/// One claim as a batch of its own, written on `conn` (no transaction): for tests of
/// what the writer does.
#[cfg(test)]
pub(crate) async fn apply(
    conn: &mut sqlx::SqliteConnection,
    ledger: &mut RiskLedger,
    claim: &Claim,
    now: DateTime<Utc>,
) -> Result<Accepted, StoreError> {
    let known = super::batch::find_many(conn, &[claim.client_order_id]).await?;
    let mut batch = Plan::default();
    let recorded = known.get(&claim.client_order_id);
    let planned = plan(
        &mut batch,
        ledger,
        claim,
        recorded,
        &mut HashMap::new(),
        now,
    )?;
    batch.write(conn, now).await?;
    Ok(planned.resolve(&batch, &claim.content_hash))
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
