//! Sending one order: attempts, retries that are provably safe, and classification.
//!
//! Only refusals from before the matching engine (rate limits, nonces) and requests
//! that provably never left are retried, with a fresh nonce, exponential backoff and
//! jitter, and never past the order's deadline. Anything ambiguous goes to
//! reconciliation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;

use super::{Executor, FRESH_WINDOW};
use crate::config::Mode;
use crate::exchange::{Attempt, AttemptOutcome, OrderRequest};
use crate::order::OrderStatus;
use crate::risk::breaker::Effect;
use crate::store::events::NewEvent;
use crate::store::orders::{Change, OrderRecord};

/// First retry delay; doubled per attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest pause between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The pause before retry number `attempt` (1-based), with up to 25 % jitter so that
/// many orders refused together do not return together.
pub(super) fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_MAX);
    let jitter = rand::thread_rng().gen_range(0..=exponential.as_millis() as u64 / 4);
    let pause = exponential + Duration::from_millis(jitter);
    retry_after.map_or(pause, |after| after.max(pause))
}

/// The attempt as an audit event: the request as sent, the raw answer and the timing.
fn attempt_event<'a>(cause: &'a str, attempt: &'a Attempt) -> NewEvent<'a> {
    NewEvent {
        cause,
        request: Some(&attempt.request),
        response: attempt.response.as_deref(),
        elapsed: Some(attempt.elapsed),
    }
}

impl Executor {
    /// Sends `order` until it reaches a final status, becomes `unknown` (then
    /// reconciles it), or its deadline passes.
    pub(super) async fn send(&self, order: OrderRecord) {
        let id = order.client_order_id;
        let order_created_at = order.created_at;
        let request = match self.request_for(&order).await {
            Ok(request) => request,
            Err(problem) => {
                let cause = format!("cannot be sent: {problem}");
                let change = Change {
                    event: NewEvent {
                        cause: &cause,
                        ..NewEvent::default()
                    },
                    error: Some(&problem),
                    ..Change::default()
                };
                self.record(id, OrderStatus::Failed, &change, Effect::None)
                    .await;
                return;
            }
        };
        let mut attempt_no = 0u32;
        loop {
            if self.now() >= request.deadline {
                self.expire(
                    &request,
                    "the deadline passed before the exchange accepted the order",
                )
                .await;
                return;
            }
            attempt_no += 1;
            let attempt = self.inner.exchange.add_order(&request).await;
            let millis = attempt.elapsed.as_millis();
            self.inner
                .metrics
                .call("add_order", outcome_name(&attempt.outcome), attempt.elapsed);
            match &attempt.outcome {
                AttemptOutcome::Placed { txid } => {
                    let cause = format!("placed: txid {txid} (attempt {attempt_no}, {millis} ms)");
                    let to = if self.mode() == Mode::Validate {
                        OrderStatus::Validated
                    } else {
                        OrderStatus::Placed
                    };
                    let change = Change {
                        event: attempt_event(&cause, &attempt),
                        txid: Some(txid),
                        ..Change::default()
                    };
                    self.record(id, to, &change, Effect::Reset).await;
                    return;
                }
                AttemptOutcome::Validated => {
                    let cause =
                        format!("validated by the exchange (attempt {attempt_no}, {millis} ms)");
                    let change = Change {
                        event: attempt_event(&cause, &attempt),
                        ..Change::default()
                    };
                    self.record(id, OrderStatus::Validated, &change, Effect::Reset)
                        .await;
                    return;
                }
                AttemptOutcome::Refused { error } | AttemptOutcome::DeadlineElapsed { error } => {
                    let (to, cause) = match &attempt.outcome {
                        AttemptOutcome::DeadlineElapsed { .. } => (
                            OrderStatus::Expired,
                            format!("the exchange refused it as late: {error}"),
                        ),
                        _ => (
                            OrderStatus::Failed,
                            format!("refused by the exchange: {error}"),
                        ),
                    };
                    let change = Change {
                        event: attempt_event(&cause, &attempt),
                        error: Some(error),
                        ..Change::default()
                    };
                    self.record(id, to, &change, Effect::Failure).await;
                    return;
                }
                AttemptOutcome::RetryLater { error, retry_after } => {
                    let pause = backoff(attempt_no, *retry_after);
                    let cause = format!(
                        "refused before the matching engine ({error}); retrying in {} ms",
                        pause.as_millis()
                    );
                    if !self
                        .pause_before_retry(&request, &cause, &attempt, pause)
                        .await
                    {
                        return;
                    }
                }
                AttemptOutcome::NotSent { reason } => {
                    let pause = backoff(attempt_no, None);
                    let cause =
                        format!("not sent ({reason}); retrying in {} ms", pause.as_millis());
                    if !self
                        .pause_before_retry(&request, &cause, &attempt, pause)
                        .await
                    {
                        return;
                    }
                }
                AttemptOutcome::Ambiguous { reason } => {
                    let cause = format!("outcome unknown ({reason}); looking the order up");
                    let change = Change {
                        event: attempt_event(&cause, &attempt),
                        ..Change::default()
                    };
                    if self
                        .record(id, OrderStatus::Unknown, &change, Effect::Failure)
                        .await
                        .is_some()
                    {
                        self.reconcile(&request, order_created_at).await;
                    }
                    return;
                }
            }
        }
    }

    /// Records a retryable attempt and sleeps; false when the order expired instead
    /// because the pause would cross its deadline.
    async fn pause_before_retry(
        &self,
        request: &OrderRequest,
        cause: &str,
        attempt: &Attempt,
        pause: Duration,
    ) -> bool {
        let change = Change {
            event: attempt_event(cause, attempt),
            ..Change::default()
        };
        // A pause beyond what time can represent (an absurd `Throttled` timestamp)
        // crosses any deadline.
        let resume_at = chrono::Duration::from_std(pause)
            .ok()
            .and_then(|pause| self.now().checked_add_signed(pause));
        if resume_at.is_none_or(|at| at >= request.deadline) {
            let cause =
                format!("{cause}; but that is past the deadline: never accepted by the exchange");
            let change = Change {
                event: attempt_event(&cause, attempt),
                error: attempt_error(attempt),
                ..Change::default()
            };
            self.record(
                request.client_order_id,
                OrderStatus::Expired,
                &change,
                Effect::Failure,
            )
            .await;
            return false;
        }
        self.record(
            request.client_order_id,
            OrderStatus::Pending,
            &change,
            Effect::None,
        )
        .await;
        tokio::time::sleep(pause).await;
        true
    }

    /// Readies an order that waited for start-up recovery, before its first send:
    /// renewed (recorded before the send, so a crash cannot lose the new deadline)
    /// or, too old to send, `expired`.
    pub(super) async fn renew_after_recovery(&self, order: OrderRecord) -> Option<OrderRecord> {
        let id = order.client_order_id;
        let offset = self.inner.config.deadline();
        let (to, deadline, cause) = match after_recovery_wait(self.now(), order.created_at, offset)
        {
            AfterWait::TooOld => (
                OrderStatus::Expired,
                None,
                "held while start-up recovery settled earlier orders; \
                     now too old to send: never sent",
            ),
            AfterWait::Renew { deadline } => (
                OrderStatus::Pending,
                Some(deadline),
                "held while start-up recovery settled earlier orders; \
                     sending now with a new deadline",
            ),
        };
        let detail = deadline.map(|d| json!({"deadline": d.to_rfc3339()}));
        let change = Change {
            event: NewEvent {
                cause,
                request: detail.as_ref(),
                ..NewEvent::default()
            },
            deadline,
            ..Change::default()
        };
        let record = self.record(id, to, &change, Effect::None).await?;
        (record.status == OrderStatus::Pending).then_some(record)
    }

    /// Marks an order that never reached the exchange as expired. Not an exchange
    /// failure: the exchange was never asked.
    pub(super) async fn expire(&self, request: &OrderRequest, cause: &str) {
        let detail = json!({"deadline": request.deadline.to_rfc3339()});
        let change = Change {
            event: NewEvent {
                cause,
                request: Some(&detail),
                ..NewEvent::default()
            },
            ..Change::default()
        };
        self.record(
            request.client_order_id,
            OrderStatus::Expired,
            &change,
            Effect::None,
        )
        .await;
    }
}

/// What becomes of an order that waited for start-up recovery before its first send.
#[derive(Debug, PartialEq, Eq)]
enum AfterWait {
    /// Nothing was sent under its old deadline: send it with this new one.
    Renew { deadline: DateTime<Utc> },
    /// Its signal is no longer fresh: a late trade on an old signal is worse than none.
    TooOld,
}

fn after_recovery_wait(
    now: DateTime<Utc>,
    created_at: DateTime<Utc>,
    deadline: chrono::Duration,
) -> AfterWait {
    if now - created_at >= FRESH_WINDOW {
        return AfterWait::TooOld;
    }
    AfterWait::Renew {
        deadline: now + deadline,
    }
}

/// The metric label of an attempt's outcome.
fn outcome_name(outcome: &AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Placed { .. } => "placed",
        AttemptOutcome::Validated => "validated",
        AttemptOutcome::Refused { .. } => "refused",
        AttemptOutcome::DeadlineElapsed { .. } => "deadline_elapsed",
        AttemptOutcome::RetryLater { .. } => "retry_later",
        AttemptOutcome::NotSent { .. } => "not_sent",
        AttemptOutcome::Ambiguous { .. } => "ambiguous",
    }
}

fn attempt_error(attempt: &Attempt) -> Option<&str> {
    match &attempt.outcome {
        AttemptOutcome::RetryLater { error, .. } => Some(error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_held_by_recovery_is_renewed_while_fresh_and_expired_after() {
        let created = Utc::now();
        let deadline = chrono::Duration::seconds(10);
        for waited in [0, 5, 30, 59] {
            let now = created + chrono::Duration::seconds(waited);
            assert_eq!(
                after_recovery_wait(now, created, deadline),
                AfterWait::Renew {
                    deadline: now + deadline
                },
                "after {waited} s"
            );
        }
        for waited in [60, 61, 3600] {
            let now = created + chrono::Duration::seconds(waited);
            assert_eq!(
                after_recovery_wait(now, created, deadline),
                AfterWait::TooOld,
                "after {waited} s"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1, None);
        assert!(first >= Duration::from_millis(400) && first <= Duration::from_millis(500));
        let late = backoff(20, None);
        assert!(late >= BACKOFF_MAX && late <= BACKOFF_MAX + BACKOFF_MAX / 4);
    }

    #[test]
    fn backoff_honours_a_longer_retry_after() {
        assert_eq!(
            backoff(1, Some(Duration::from_secs(9))),
            Duration::from_secs(9)
        );
    }
}
