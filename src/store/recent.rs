//! The records the writer committed most recently, by client order ID, so a retried
//! webhook (a replay) is answered from memory, without a database read.
//!
//! Every write to the orders table goes through the one writer, which refreshes an
//! entry after each commit: an entry is never older than the database. Bounded: the
//! oldest entries are dropped first, and a miss simply falls back to the read pool.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use super::orders::OrderRecord;

/// How many records are kept (about 1 KB each).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
struct Entries {
    records: HashMap<Uuid, OrderRecord>,
    /// Keys in the order they were first cached, oldest first.
    order: VecDeque<Uuid>,
}

/// A bounded cache of recently committed records.
#[derive(Debug, Default)]
pub struct RecentOrders(Mutex<Entries>);

impl RecentOrders {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Plain maps: consistent even if a holder panicked.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached record of `id`, if any.
    pub fn get(&self, id: &Uuid) -> Option<OrderRecord> {
        self.entries().records.get(id).cloned()
    }

    /// The cached records of `ids`, and the ids that are not cached, under one lock.
    pub fn get_many(&self, ids: &[Uuid]) -> (HashMap<Uuid, OrderRecord>, Vec<Uuid>) {
        let entries = self.entries();
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match entries.records.get(id) {
                Some(record) => {
                    found.insert(*id, record.clone());
                }
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    /// Caches `record` as committed; only the writer calls this, after the commit.
    pub fn put(&self, record: OrderRecord) {
        let mut entries = self.entries();
        let id = record.client_order_id;
        if entries.records.insert(id, record).is_none() {
            entries.order.push_back(id);
            while entries.order.len() > CAPACITY {
                if let Some(oldest) = entries.order.pop_front() {
                    entries.records.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderStatus;

    fn record(status: OrderStatus) -> OrderRecord {
        let json = serde_json::json!({
            "pair": "XBTUSD", "side": "buy", "order_type": "market", "volume": "1"
        });
        let signal = crate::signal::parse_signal(json.to_string().as_bytes())
            .unwrap()
            .0;
        OrderRecord {
            id: 1,
            client_order_id: Uuid::new_v4(),
            source: "a".into(),
            strategy: None,
            pair: "XBTUSD".into(),
            side: signal.side,
            order_type: signal.order_type,
            volume: None,
            price: None,
            notional: None,
            status,
            txid: None,
            error: None,
            reasons: serde_json::json!([]),
            userref: None,
            deadline: None,
            resends: 0,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            signal,
            content_hash: String::new(),
        }
    }

    #[test]
    fn a_newer_record_replaces_the_cached_one() {
        let cache = RecentOrders::default();
        let pending = record(OrderStatus::Pending);
        let id = pending.client_order_id;
        cache.put(pending.clone());
        cache.put(OrderRecord {
            status: OrderStatus::Placed,
            ..pending
        });
        assert_eq!(cache.get(&id).unwrap().status, OrderStatus::Placed);
    }

    #[test]
    fn the_oldest_records_are_dropped_beyond_the_capacity() {
        let cache = RecentOrders::default();
        let first = record(OrderStatus::Pending);
        let first_id = first.client_order_id;
        cache.put(first);
        for _ in 0..CAPACITY {
            cache.put(record(OrderStatus::Pending));
        }
        assert!(cache.get(&first_id).is_none());
        assert_eq!(cache.entries().records.len(), CAPACITY);
    }
}
