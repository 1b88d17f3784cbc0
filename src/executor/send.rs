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
use crate::risk::Halt;
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

/// The attempt as a status change: its cause, the request as sent, the raw answer and
/// the timing.
fn attempt_change(cause: String, attempt: &Attempt) -> Change {
    Change {
        cause,
        request: Some(attempt.request.clone()),
        response: attempt.response.clone(),
        elapsed: Some(attempt.elapsed),
        ..Change::default()
    }
}

/// Why an order must not be sent now, if it must not: the kill switch is on. Checked
/// at the moment of each send, so that after an operator halts, nothing further leaves.
fn refuse_to_send(halt: Option<&Halt>) -> Option<String> {
    halt.map(|halt| {
        format!(
            "trading halted before it was sent ({}): never sent",
            halt.reason
        )
    })
}

impl Executor {
    /// Sends `order` until it reaches a final status, becomes `unknown` (then
    /// reconciles it), or its deadline passes.
    pub(super) async fn send(&self, order: OrderRecord) {
        let id = order.client_order_id;
        let request = match self.request_for(&order).await {
            Ok(request) => request,
            Err(problem) => {
                let change = Change {
                    error: Some(problem.clone()),
                    ..Change::because(format!("cannot be sent: {problem}"))
                };
                self.record(id, OrderStatus::Failed, change, Effect::None)
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
            let refusal = refuse_to_send(self.inner.store.halted().as_ref())
                .or_else(|| self.clock_problem().map(|p| format!("{p}: never sent")));
            if let Some(why) = refusal {
                self.expire(&request, &why).await;
                return;
            }
            attempt_no += 1;
            self.inner.tracker.attempting(id);
            let since_signal = self.now() - order.created_at;
            self.inner
                .tracker
                .on_wire(id, since_signal.num_milliseconds());
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
                        txid: Some(txid.clone()),
                        ..attempt_change(cause, &attempt)
                    };
                    self.record(id, to, change, Effect::Reset).await;
                    return;
                }
                AttemptOutcome::Validated => {
                    let cause =
                        format!("validated by the exchange (attempt {attempt_no}, {millis} ms)");
                    let change = attempt_change(cause, &attempt);
                    self.record(id, OrderStatus::Validated, change, Effect::Reset)
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
                        error: Some(error.clone()),
                        ..attempt_change(cause, &attempt)
                    };
                    self.record(id, to, change, Effect::Failure).await;
                    return;
                }
                AttemptOutcome::RetryLater { error, retry_after } => {
                    let pause = backoff(attempt_no, *retry_after);
                    let cause = format!(
                        "refused before the matching engine ({error}); retrying in {} ms",
                        pause.as_millis()
                    );
                    if !self
                        .pause_before_retry(&request, cause, &attempt, pause)
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
                        .pause_before_retry(&request, cause, &attempt, pause)
                        .await
                    {
                        return;
                    }
                }
                AttemptOutcome::Ambiguous { reason } => {
                    let cause = format!("outcome unknown ({reason}); looking the order up");
                    let change = attempt_change(cause, &attempt);
                    if let Some(record) = self
                        .record(id, OrderStatus::Unknown, change, Effect::Failure)
                        .await
                    {
                        self.reconcile(&request, &record).await;
                    }
                    return;
                }
            }
        }
    }

    /// Records a retryable attempt and sleeps; false when the order expired instead
    /// because the pause would cross its deadline. Such an expiry counts toward the
    /// circuit breaker only when the exchange itself refused: a wait imposed by our own
    /// rate model (an attempt without any exchange answer) is not an exchange failure.
    async fn pause_before_retry(
        &self,
        request: &OrderRequest,
        cause: String,
        attempt: &Attempt,
        pause: Duration,
    ) -> bool {
        // A pause beyond what time can represent (an absurd `Throttled` timestamp)
        // crosses any deadline.
        let resume_at = chrono::Duration::from_std(pause)
            .ok()
            .and_then(|pause| self.now().checked_add_signed(pause));
        let id = request.client_order_id;
        if resume_at.is_none_or(|at| at >= request.deadline) {
            let cause =
                format!("{cause}; but that is past the deadline: never accepted by the exchange");
            let change = Change {
                error: attempt_error(attempt).map(str::to_owned),
                ..attempt_change(cause, attempt)
            };
            let refused_by_exchange = matches!(attempt.outcome, AttemptOutcome::RetryLater { .. })
                && attempt.response.is_some();
            let effect = if refused_by_exchange {
                Effect::Failure
            } else {
                Effect::None
            };
            self.record(id, OrderStatus::Expired, change, effect).await;
            return false;
        }
        let change = attempt_change(cause, attempt);
        self.record(id, OrderStatus::Pending, change, Effect::None)
            .await;
        tokio::time::sleep(pause).await;
        true
    }

    /// Readies an order that waited before its first send (for start-up recovery, or
    /// stranded): renewed (recorded before the send, so a crash cannot lose the new
    /// deadline) or, too old to send, `expired`.
    pub(super) async fn renew_after_wait(&self, order: OrderRecord) -> Option<OrderRecord> {
        let id = order.client_order_id;
        let offset = self.inner.config.deadline();
        let (to, deadline, cause) = match after_recovery_wait(self.now(), order.created_at, offset)
        {
            AfterWait::TooOld => (
                OrderStatus::Expired,
                None,
                "held before its first send (start-up recovery, or stranded); \
                     now too old to send: never sent",
            ),
            AfterWait::Renew { deadline } => (
                OrderStatus::Pending,
                Some(deadline),
                "held before its first send (start-up recovery, or stranded); \
                     sending now with a new deadline",
            ),
        };
        let change = Change {
            request: deadline.map(|d| json!({"deadline": d.to_rfc3339()})),
            deadline,
            ..Change::because(cause)
        };
        let record = self.record(id, to, change, Effect::None).await?;
        (record.status == OrderStatus::Pending).then_some(record)
    }

    /// Marks an order that never reached the exchange as expired. Not an exchange
    /// failure: the exchange was never asked.
    pub(super) async fn expire(&self, request: &OrderRequest, cause: &str) {
        let change = Change {
            request: Some(json!({"deadline": request.deadline.to_rfc3339()})),
            ..Change::because(cause)
        };
        self.record(
            request.client_order_id,
            OrderStatus::Expired,
            change,
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
    fn a_halt_refuses_every_send_and_says_why() {
        assert_eq!(refuse_to_send(None), None);
        let halt = Halt {
            reason: "admin: maintenance".into(),
            since: Utc::now(),
        };
        let why = refuse_to_send(Some(&halt)).unwrap();
        assert!(
            why.contains("admin: maintenance") && why.contains("never sent"),
            "{why}"
        );
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
