//! `BalanceEx` against the fake Kraken: a signed private call through the nonce and
//! the rate model, read as the balance available for trading (less `hold_trade`).

use std::time::{Duration, Instant};

use super::support::fake_kraken::FakeKraken;
use super::{client, d};
use tradehook::exchange::kraken::rate_limit::Counter;
use tradehook::exchange::Exchange;

#[tokio::test]
async fn available_balances_are_read_from_balance_ex_less_what_open_orders_hold() {
    let kraken = FakeKraken::start().await;
    kraken.set_hold_trade("ZUSD", d("2500.5"));
    kraken.set_hold_trade("XXBT", d("0.5"));
    let exchange = client(&kraken);
    let available = exchange
        .available_balances()
        .await
        .expect("BalanceEx is read");
    assert_eq!(available["ZUSD"], d("97499.5"), "100000 less 2500.5 held");
    assert_eq!(available["XXBT"], d("1.0"), "1.5 less 0.5 held");
    assert_eq!(kraken.calls("BalanceEx"), 1);
    assert_eq!(kraken.calls("Balance"), 0, "the total balance is not read");
    // A second read is signed with a fresh nonce, which the fake checks.
    exchange.available_balances().await.expect("read again");
    let nonces = kraken.nonces();
    assert_eq!(nonces.len(), 2);
    assert!(nonces[1] > nonces[0], "{nonces:?}");
    // The total balance is unchanged by holds.
    assert_eq!(exchange.balances().await.unwrap()["ZUSD"], d("100000"));
}

#[tokio::test]
async fn a_balance_ex_read_is_charged_to_the_private_counter() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken); // Starter tier: 15 units, 1 per 3 s.
    let before = exchange.headroom().private.remaining;
    exchange
        .available_balances()
        .await
        .expect("BalanceEx is read");
    let after = exchange.headroom().private.remaining;
    // One unit, less what decayed meanwhile (a third of a unit a second).
    assert!(before - after > 0.5, "charged {}", before - after);
}

#[tokio::test]
async fn a_balance_ex_read_that_would_wait_long_for_the_rate_model_fails_unsent() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken);
    exchange.private().limiter().saturate(&Counter::Private);
    let started = Instant::now();
    let error = exchange.available_balances().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(error.to_string().contains("BalanceEx"), "{error}");
    assert!(error.to_string().contains("rate limit"), "{error}");
    assert_eq!(kraken.calls("BalanceEx"), 0, "not sent");
}
