//! `CancelOrder` as an [`Exchange`](crate::exchange::Exchange) cancel: by txid when
//! the order has one, else by `cl_ord_id`; Kraken's answer classified.

use std::time::Instant;

use serde_json::json;

use super::client::KrakenError;
use super::private::KrakenPrivate;
use crate::exchange::cancel::{CancelAttempt, CancelOutcome, CancelRequest};

/// Kraken's error for an id with no open order.
const UNKNOWN_ORDER: &str = "EOrder:Unknown order";

/// Sends one `CancelOrder` and classifies the answer.
pub async fn cancel(private: &KrakenPrivate, order: &CancelRequest) -> CancelAttempt {
    let started = Instant::now();
    let (key, id) = match &order.txid {
        Some(txid) => ("txid", txid.clone()),
        None => ("cl_ord_id", order.client_order_id.to_string()),
    };
    let result = private.cancel_by(key, &id, &order.pair).await;
    let (outcome, response) = classify(result);
    CancelAttempt {
        request: json!({ key: id }),
        response,
        elapsed: started.elapsed(),
        outcome,
    }
}

fn classify(result: Result<serde_json::Value, KrakenError>) -> (CancelOutcome, Option<String>) {
    match result {
        Ok(body) => {
            let count = body.get("count").and_then(|c| c.as_u64()).unwrap_or(0);
            let outcome = if count > 0 {
                CancelOutcome::Canceled
            } else {
                CancelOutcome::NotOpen {
                    error: "Kraken cancelled nothing (count 0)".into(),
                }
            };
            (outcome, Some(json!({"result": body}).to_string()))
        }
        Err(KrakenError::Api(errors)) => {
            let response = Some(json!({ "error": errors }).to_string());
            let error = errors.join("; ");
            if errors.iter().any(|e| e.starts_with(UNKNOWN_ORDER)) {
                (CancelOutcome::NotOpen { error }, response)
            } else {
                (CancelOutcome::Failed { error }, response)
            }
        }
        Err(KrakenError::Transport(reason)) | Err(KrakenError::Parse(reason)) => {
            (CancelOutcome::Ambiguous { reason }, None)
        }
        Err(err) => (
            CancelOutcome::Failed {
                error: err.to_string(),
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_one_is_a_cancel_and_unknown_order_is_not_open() {
        let (ok, _) = classify(Ok(json!({"count": 1})));
        assert_eq!(ok, CancelOutcome::Canceled);
        let (gone, response) = classify(Err(KrakenError::Api(vec![UNKNOWN_ORDER.into()])));
        assert!(matches!(gone, CancelOutcome::NotOpen { .. }));
        assert!(response.unwrap().contains(UNKNOWN_ORDER));
    }

    #[test]
    fn no_answer_is_ambiguous_and_not_sent_is_a_failure() {
        let (lost, _) = classify(Err(KrakenError::Transport("timeout".into())));
        assert!(matches!(lost, CancelOutcome::Ambiguous { .. }));
        let (unsent, _) = classify(Err(KrakenError::NotSent("rate limit".into())));
        assert!(matches!(unsent, CancelOutcome::Failed { .. }));
    }
}
