//! Which orders a task is working on, and which were attempted in this process.
//!
//! Every path that starts work on an order (the writer's hand-off, the sweeper,
//! recovery) takes it here first, so no order is ever worked on by two tasks. The
//! attempted set tells the sweeper whether a `pending` order that nothing works on may
//! have left for the exchange (then it is looked up, never resent) or provably not.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

#[derive(Debug, Default)]
struct Sets {
    active: HashSet<Uuid>,
    attempted: HashSet<Uuid>,
    /// Milliseconds from a signal's arrival to its order's first send.
    to_wire_ms: HashMap<Uuid, i64>,
}

/// The executor's bookkeeping of work in progress.
#[derive(Debug, Default, Clone)]
pub(super) struct Tracker(Arc<Mutex<Sets>>);

impl Tracker {
    fn sets(&self) -> MutexGuard<'_, Sets> {
        // Plain sets: consistent even if a holder panicked.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `id` for one task; `None` when another task already has it.
    pub fn start(&self, id: Uuid) -> Option<Working> {
        self.sets().active.insert(id).then(|| Working {
            tracker: self.clone(),
            id,
        })
    }

    /// Notes that an attempt of `id` may be on its way to the exchange.
    pub fn attempting(&self, id: Uuid) {
        self.sets().attempted.insert(id);
    }

    /// Whether `id` was attempted in this process and has not settled since.
    pub fn was_attempted(&self, id: Uuid) -> bool {
        self.sets().attempted.contains(&id)
    }

    /// `id` reached a final status: forget its attempts.
    pub fn settled(&self, id: Uuid) {
        let mut sets = self.sets();
        sets.attempted.remove(&id);
        sets.to_wire_ms.remove(&id);
    }

    /// Notes how long after its signal `id` first went on the wire (later sends of
    /// the same order keep the first).
    pub fn on_wire(&self, id: Uuid, since_signal_ms: i64) {
        self.sets().to_wire_ms.entry(id).or_insert(since_signal_ms);
    }

    /// The time noted by [`Tracker::on_wire`], if the order was sent.
    pub fn to_wire_ms(&self, id: Uuid) -> Option<i64> {
        self.sets().to_wire_ms.get(&id).copied()
    }

    /// How many orders tasks are working on.
    pub fn active_count(&self) -> usize {
        self.sets().active.len()
    }
}

/// A task's hold on an order; released when dropped (the task ended, however).
#[derive(Debug)]
pub(super) struct Working {
    tracker: Tracker,
    id: Uuid,
}

impl Drop for Working {
    fn drop(&mut self) {
        self.tracker.sets().active.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_worked_on_by_one_task_at_a_time() {
        let tracker = Tracker::default();
        let id = Uuid::new_v4();
        let first = tracker.start(id).unwrap();
        assert!(tracker.start(id).is_none());
        assert_eq!(tracker.active_count(), 1);
        drop(first);
        assert!(tracker.start(id).is_some());
    }

    #[test]
    fn attempts_are_remembered_until_settled() {
        let tracker = Tracker::default();
        let id = Uuid::new_v4();
        assert!(!tracker.was_attempted(id));
        tracker.attempting(id);
        assert!(tracker.was_attempted(id));
        tracker.settled(id);
        assert!(!tracker.was_attempted(id));
    }

    #[test]
    fn the_first_send_time_is_kept_until_the_order_settles() {
        let tracker = Tracker::default();
        let id = Uuid::new_v4();
        assert_eq!(tracker.to_wire_ms(id), None);
        tracker.on_wire(id, 12);
        tracker.on_wire(id, 900);
        assert_eq!(tracker.to_wire_ms(id), Some(12));
        tracker.settled(id);
        assert_eq!(tracker.to_wire_ms(id), None);
    }
}
