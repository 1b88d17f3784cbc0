//! The log lines an operator reads to follow orders: one `info` line per order
//! outcome and one per signal refused by the risk rules. Free text from signals
//! (`strategy`, Kraken's error, refusal details) is Debug-formatted (quoted and
//! escaped), so it cannot forge a line; a field with no value is left out.

use tracing::field::{debug as quoted, display as plain};

use crate::store::orders::OrderRecord;

/// One line for an order that reached an outcome (a final status, or `unknown`
/// while it is looked up), with the milliseconds from the signal's arrival to its
/// first send, when it was sent.
pub fn order_outcome(record: &OrderRecord, signal_to_wire_ms: Option<i64>) {
    tracing::info!(
        client_order_id = %record.client_order_id,
        source = %record.source,
        strategy = record.strategy.as_deref().map(quoted),
        pair = %record.pair,
        side = %record.side.as_str(),
        volume = record.volume.as_ref().map(plain),
        status = %record.status,
        txid = record.txid.as_deref().map(plain),
        error = record.error.as_deref().map(quoted),
        signal_to_wire_ms,
        "order outcome"
    );
}

/// One line for a signal the risk rules refused, with every reason.
pub fn signal_refused(record: &OrderRecord) {
    tracing::info!(
        client_order_id = %record.client_order_id,
        source = %record.source,
        strategy = record.strategy.as_deref().map(quoted),
        pair = %record.pair,
        side = %record.side.as_str(),
        volume = record.volume.as_ref().map(plain),
        reasons = %record.reasons,
        "signal refused"
    );
}
