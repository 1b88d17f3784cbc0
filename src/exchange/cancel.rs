//! Cancelling an order on the exchange: what is asked and what the answer means.

use std::time::Duration;

use uuid::Uuid;

/// An order to cancel: by its txid when known, else by its client order ID.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    pub client_order_id: Uuid,
    pub txid: Option<String>,
    /// The pair's altname: whose trading counter the cancel is charged to.
    pub pair: String,
}

/// What the exchange said about a cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The order was open and is now cancelled.
    Canceled,
    /// The exchange has no open order by that id: it filled, was cancelled already,
    /// or never reached the book.
    NotOpen { error: String },
    /// The cancel was not sent, or refused for another reason; nothing changed.
    Failed { error: String },
    /// It may have reached the exchange but no usable answer came back.
    Ambiguous { reason: String },
}

/// One cancel, with what an audit event needs.
#[derive(Debug, Clone)]
pub struct CancelAttempt {
    /// The request as sent, without key, secret or signature.
    pub request: serde_json::Value,
    /// The exchange's raw answer, if one arrived.
    pub response: Option<String>,
    pub elapsed: Duration,
    pub outcome: CancelOutcome,
}

impl CancelAttempt {
    /// An attempt that never left: this exchange cannot cancel.
    pub fn unsupported(order: &CancelRequest) -> Self {
        CancelAttempt {
            request: serde_json::json!({"cl_ord_id": order.client_order_id}),
            response: None,
            elapsed: Duration::ZERO,
            outcome: CancelOutcome::Failed {
                error: "this exchange cannot cancel orders".into(),
            },
        }
    }
}
