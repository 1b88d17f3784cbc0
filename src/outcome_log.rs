//! The log lines an operator reads to follow orders: one `info` line per order
//! outcome and one per signal refused by the risk rules. Free text from signals
//! (`strategy`, refusal details) is Debug-formatted, so it cannot forge a line.

use crate::store::orders::OrderRecord;

/// One line for an order that reached an outcome (a final status, or `unknown`
/// while it is looked up), with the milliseconds from the signal's arrival to its
/// first send, when it was sent.
pub fn order_outcome(record: &OrderRecord, signal_to_wire_ms: Option<i64>) {
    tracing::info!(
        client_order_id = %record.client_order_id,
        source = %record.source,
        strategy = ?record.strategy,
        pair = %record.pair,
        side = ?record.side,
        volume = ?record.volume.map(|v| v.to_string()),
        status = %record.status,
        txid = ?record.txid,
        error = ?record.error,
        signal_to_wire_ms = ?signal_to_wire_ms,
        "order outcome"
    );
}

/// One line for a signal the risk rules refused, with every reason.
pub fn signal_refused(record: &OrderRecord) {
    tracing::info!(
        client_order_id = %record.client_order_id,
        source = %record.source,
        strategy = ?record.strategy,
        pair = %record.pair,
        side = ?record.side,
        volume = ?record.volume.map(|v| v.to_string()),
        reasons = %record.reasons,
        "signal refused"
    );
}
