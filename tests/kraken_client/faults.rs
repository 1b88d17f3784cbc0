//! Every scripted fault of the fake Kraken and the outcome class it must produce
//! (SPEC §5): ambiguous, refused, retry later, deadline elapsed, not sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::support::fake_kraken::{Behaviour, FakeKraken};
use super::{client, order, order_with_deadline, outcome_with};
use tradehook::config::{ExchangeConfig, Mode};
use tradehook::exchange::kraken::{KrakenExchange, MemoryNonceStore};
use tradehook::exchange::{Attempt, AttemptOutcome, Exchange, LookupOutcome, OrderRequest};
use tradehook::secret::Secret;

/// Sends [`order`] once to a fake Kraken scripted with `behaviour` and asserts the
/// attempt is ambiguous; hands back the fake, the client, the order and the attempt.
async fn send_ambiguous(
    behaviour: Behaviour,
) -> (FakeKraken, KrakenExchange, OrderRequest, Attempt) {
    let kraken = FakeKraken::start().await;
    kraken.script(behaviour);
    let exchange = client(&kraken);
    let order = order();
    let attempt = exchange.add_order(&order).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::Ambiguous { .. }),
        "{attempt:?}"
    );
    (kraken, exchange, order, attempt)
}

#[tokio::test]
async fn accepted_then_502_is_ambiguous_and_the_lookup_then_finds_it() {
    let (kraken, exchange, order, attempt) = send_ambiguous(Behaviour::AcceptThen502).await;
    assert!(attempt.response.unwrap().contains("<html>"));

    let lookup = exchange.find_order(&order).await;
    let LookupOutcome::Found { txid, state } = lookup.outcome else {
        panic!("{lookup:?}");
    };
    assert_eq!(txid, kraken.orders()[0].txid);
    assert_eq!(state, "open");
}

#[tokio::test]
async fn accepted_then_dropped_connection_is_ambiguous() {
    let (kraken, outcome) = outcome_with(Behaviour::AcceptThenDrop).await;
    assert!(
        matches!(outcome, AttemptOutcome::Ambiguous { .. }),
        "{outcome:?}"
    );
    assert_eq!(kraken.order_count(), 1);
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_ambiguous_before_the_deadline() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::AcceptThenDelay(Duration::from_secs(5)));
    let exchange = client(&kraken);
    let order = order_with_deadline(Duration::from_secs(2));
    let started = Instant::now();
    let attempt = exchange.add_order(&order).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::Ambiguous { .. }),
        "{attempt:?}"
    );
    assert!(
        Utc::now() < order.deadline,
        "the timeout must end before the deadline"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let lookup = exchange.find_order(&order).await;
    assert!(
        matches!(lookup.outcome, LookupOutcome::Found { .. }),
        "{lookup:?}"
    );
}

#[tokio::test]
async fn an_html_server_error_is_ambiguous_and_nothing_is_found() {
    let (kraken, exchange, order, _) = send_ambiguous(Behaviour::ServerErrorHtml(503)).await;
    let lookup = exchange.find_order(&order).await;
    assert_eq!(lookup.outcome, LookupOutcome::NotFound);
    assert_eq!(kraken.calls("OpenOrders"), 1);
    assert_eq!(kraken.calls("ClosedOrders"), 1);
}

#[tokio::test]
async fn service_unavailable_is_ambiguous() {
    let (_, outcome) = outcome_with(Behaviour::Refuse("EService:Unavailable".into())).await;
    assert!(
        matches!(outcome, AttemptOutcome::Ambiguous { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn insufficient_funds_is_a_final_refusal_with_krakens_error() {
    let (_, outcome) = outcome_with(Behaviour::Refuse("EOrder:Insufficient funds".into())).await;
    assert_eq!(
        outcome,
        AttemptOutcome::Refused {
            error: "EOrder:Insufficient funds".into()
        }
    );
}

#[tokio::test]
async fn rate_limit_and_invalid_nonce_are_retry_later() {
    for error in ["EAPI:Rate limit exceeded", "EAPI:Invalid nonce"] {
        let (_, outcome) = outcome_with(Behaviour::Refuse(error.into())).await;
        assert!(
            matches!(outcome, AttemptOutcome::RetryLater { ref error, .. } if error.contains("E")),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn throttled_says_when_to_retry() {
    let at = Utc::now().timestamp() + 20;
    let (_, outcome) = outcome_with(Behaviour::Refuse(format!("EService:Throttled:{at}"))).await;
    let AttemptOutcome::RetryLater { retry_after, .. } = outcome else {
        panic!("{outcome:?}");
    };
    let wait = retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
}

#[tokio::test]
async fn an_order_too_close_to_its_deadline_is_not_sent() {
    let kraken = FakeKraken::start().await;
    let attempt = client(&kraken)
        .add_order(&order_with_deadline(Duration::from_millis(100)))
        .await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::NotSent { .. }),
        "{attempt:?}"
    );
    assert_eq!(kraken.calls("AddOrder"), 0);
}

/// One `AddOrder` of [`order`] by a client whose configuration (pointing at a running
/// fake Kraken) `adjust` changed.
async fn attempt_with_config(adjust: impl FnOnce(&mut ExchangeConfig)) -> Attempt {
    let kraken = FakeKraken::start().await;
    let mut config = kraken.exchange_config(Mode::Live);
    adjust(&mut config);
    let exchange = KrakenExchange::new(&config, Arc::new(MemoryNonceStore::new())).unwrap();
    exchange.add_order(&order()).await
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let attempt = attempt_with_config(|c| c.kraken_url = "http://127.0.0.1:1".into()).await;
    assert!(
        matches!(attempt.outcome, AttemptOutcome::NotSent { .. }),
        "{attempt:?}"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_an_invalid_signature() {
    let wrong = Secret::new("AAAAAAAAAAAAAAAAAAAAAA==");
    let attempt = attempt_with_config(|c| c.api_secret = Some(wrong)).await;
    assert_eq!(
        attempt.outcome,
        AttemptOutcome::Refused {
            error: "EAPI:Invalid signature".into()
        }
    );
}

#[tokio::test]
async fn a_held_answer_arrives_once_released() {
    let kraken = FakeKraken::start().await;
    kraken.script(Behaviour::AcceptThenHold);
    let exchange = Arc::new(client(&kraken));
    let sending = {
        let exchange = exchange.clone();
        tokio::spawn(async move { exchange.add_order(&order()).await.outcome })
    };
    while kraken.held() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        kraken.order_count(),
        1,
        "accepted before the answer is held"
    );
    kraken.release_held();
    let outcome = sending.await.unwrap();
    assert!(
        matches!(outcome, AttemptOutcome::Placed { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_never_followed_and_is_ambiguous() {
    for status in [301, 302, 307, 308] {
        let (kraken, exchange, order, attempt) = send_ambiguous(Behaviour::Redirect(status)).await;
        assert_eq!(kraken.calls("AddOrder"), 1, "{status}: sent once");
        assert_eq!(kraken.calls("redirected"), 0, "{status}: followed");
        let reason = format!("{:?}", attempt.outcome);
        assert!(reason.contains(&status.to_string()), "{reason}");
        // Settled by lookup, never by resending: the fake placed nothing.
        let lookup = exchange.find_order(&order).await;
        assert_eq!(lookup.outcome, LookupOutcome::NotFound, "{status}");
    }
}
