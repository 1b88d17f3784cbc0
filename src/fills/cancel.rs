//! Cancelling an order: asked of the exchange by txid (or `cl_ord_id`), and recorded
//! as `canceled` with who asked, the request and the answer, through the writer.
//!
//! Idempotent: an order already `filled` or `canceled` (or never on the book) is not
//! sent again and answers what it is; an exchange that no longer has the order open
//! answers the same way (its fills, if it filled meanwhile, arrive on their own).

use std::sync::Arc;

use uuid::Uuid;

use crate::exchange::cancel::{CancelOutcome, CancelRequest};
use crate::exchange::Exchange;
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::store::orders::{Change, ChangeError, OrderRecord};
use crate::store::transition::StatusChange;
use crate::store::{Store, StoreError};

/// Why a cancel did nothing.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no order with client order ID {0}")]
    NotFound(Uuid),
    /// The order is not open; the message says what it is.
    #[error("{message}")]
    NotOpen {
        message: String,
        order: Box<OrderRecord>,
    },
    /// The exchange refused or did not answer; nothing was recorded.
    #[error("{0}")]
    Exchange(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn not_open(order: OrderRecord, why: &str) -> CancelError {
    CancelError::NotOpen {
        message: format!(
            "order {} is {}{why}; nothing to cancel",
            order.client_order_id, order.status
        ),
        order: Box::new(order),
    }
}

/// Cancels `client_order_id` on `exchange`; `who` is recorded in the event
/// (`"a user (admin API)"`, `"the kill switch"`). Returns the order as recorded.
pub async fn cancel(
    store: &Store,
    exchange: &Arc<dyn Exchange>,
    client_order_id: Uuid,
    who: &str,
) -> Result<OrderRecord, CancelError> {
    let order = store
        .order(client_order_id)
        .await?
        .ok_or(CancelError::NotFound(client_order_id))?;
    match order.status {
        OrderStatus::Placed | OrderStatus::PartiallyFilled => {}
        OrderStatus::Pending | OrderStatus::Unknown => {
            return Err(not_open(
                order,
                " (its send is not settled yet; try again once placed)",
            ))
        }
        _ => return Err(not_open(order, "")),
    }
    let request = CancelRequest {
        client_order_id,
        txid: order.txid.clone(),
        pair: order.pair.clone(),
    };
    let attempt = exchange.cancel_order(&request).await;
    match attempt.outcome {
        CancelOutcome::Canceled => {
            let change = StatusChange {
                client_order_id,
                to: OrderStatus::Canceled,
                change: Change {
                    request: Some(attempt.request),
                    response: attempt.response,
                    elapsed: Some(attempt.elapsed),
                    ..Change::because(format!("canceled by {who}"))
                },
                effect: Effect::None,
                breaker_limit: None,
            };
            match store.change(change).await {
                Ok(record) => Ok(record),
                // It filled between the read and the cancel's record.
                Err(ChangeError::Illegal(_)) => match store.order(client_order_id).await? {
                    Some(now) => Err(not_open(now, "")),
                    None => Err(CancelError::NotFound(client_order_id)),
                },
                Err(ChangeError::NotFound(id)) => Err(CancelError::NotFound(id)),
                Err(ChangeError::Store(err)) => Err(CancelError::Store(err)),
            }
        }
        CancelOutcome::NotOpen { error } => {
            let now = store.order(client_order_id).await?.unwrap_or(order);
            Err(not_open(
                now,
                &format!(" here, and the exchange has no open order by that id ({error})"),
            ))
        }
        CancelOutcome::Failed { error } => Err(CancelError::Exchange(format!(
            "the exchange did not cancel the order: {error}"
        ))),
        CancelOutcome::Ambiguous { reason } => Err(CancelError::Exchange(format!(
            "no answer to the cancel ({reason}); it may or may not have taken effect: \
             asking again is safe"
        ))),
    }
}

/// Who a cancel by the kill switch is recorded as.
pub const BY_HALT: &str = "the kill switch (risk.cancel_open_orders_on_halt)";

/// With `risk.cancel_open_orders_on_halt`, cancels every order still open on the
/// exchange, in the background (the halt answers at once); each outcome is logged.
pub fn on_halt(store: &Store, exchange: &Arc<dyn Exchange>, enabled: bool) {
    if !enabled {
        return;
    }
    let (store, exchange) = (store.clone(), exchange.clone());
    tokio::spawn(async move {
        let open = match crate::store::orders::open_on_exchange(store.reader()).await {
            Ok(open) => open,
            Err(err) => {
                tracing::error!(error = %err, "halt: cannot list the open orders to cancel");
                return;
            }
        };
        for order in open {
            let id = order.client_order_id;
            match cancel(&store, &exchange, id, BY_HALT).await {
                Ok(_) => tracing::warn!(order = %id, "halt: open order cancelled"),
                Err(err) => tracing::error!(order = %id, error = %err, "halt: not cancelled"),
            }
        }
    });
}
