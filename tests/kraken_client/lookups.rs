//! Lookups share one bounded schedule (issue 14, item 13) and never pick one of
//! several candidates (item 4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::support::fake_kraken::{Behaviour, FakeKraken};
use super::{client, d, order};
use tradehook::exchange::kraken::rate_limit::Counter;
use tradehook::exchange::kraken::KrakenExchange;
use tradehook::exchange::{AttemptOutcome, Exchange, LookupOutcome, OrderRequest};
use tradehook::signal::{CloseOrder, OrderType};

/// A market order: Kraken closes it at once, so lookups find it among closed orders.
fn market_order() -> OrderRequest {
    let mut order = order();
    order.order_type = OrderType::Market;
    order.price = None;
    order
}

/// Looks every order up at once; the outcomes in order.
async fn find_all(exchange: &Arc<KrakenExchange>, orders: &[OrderRequest]) -> Vec<LookupOutcome> {
    let lookups = orders.iter().map(|order| {
        let exchange = exchange.clone();
        let order = order.clone();
        tokio::spawn(async move { exchange.find_order(&order).await.outcome })
    });
    join_all(lookups)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

fn lookup_calls(kraken: &FakeKraken) -> usize {
    kraken.calls("OpenOrders") + kraken.calls("ClosedOrders")
}

#[tokio::test]
async fn ten_unknown_orders_are_settled_by_a_few_shared_lookup_calls() {
    let kraken = FakeKraken::start().await;
    kraken.set_nonce_window(5_000);
    let exchange = Arc::new(client(&kraken));
    let orders: Vec<OrderRequest> = (0..10)
        .map(|n| if n % 2 == 0 { order() } else { market_order() })
        .collect();
    for _ in &orders {
        kraken.script(Behaviour::AcceptThen502);
    }
    for order in &orders {
        let outcome = exchange.add_order(order).await.outcome;
        assert!(
            matches!(outcome, AttemptOutcome::Ambiguous { .. }),
            "{outcome:?}"
        );
    }

    let outcomes = find_all(&exchange, &orders).await;
    for (order, outcome) in orders.iter().zip(outcomes) {
        let held = kraken
            .order_by_cl_ord_id(&order.client_order_id.to_string())
            .unwrap();
        let LookupOutcome::Found { txid, state } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!((txid, state), (held.txid, held.status));
    }
    // One round is an OpenOrders and a ClosedOrders; lookups queued while the
    // first round ran may need a second.
    assert!(lookup_calls(&kraken) <= 4, "{:?}", kraken.methods_called());
}

#[tokio::test]
async fn a_balance_read_is_prompt_while_many_lookups_are_queued() {
    let kraken = FakeKraken::start().await;
    let exchange = Arc::new(client(&kraken)); // Starter tier: 15 units, 1 per 3 s.
                                              // Earlier lookups have used 9 units: lookups may take one more, no further.
    let limiter = exchange.private().limiter();
    limiter.acquire(&Counter::Private, 9.0, None).await.unwrap();
    // Thirty unknown orders (never placed), each looked up again and again, as
    // reconciliation does.
    let finders: Vec<_> = (0..30)
        .map(|_| {
            let exchange = exchange.clone();
            let order = order();
            tokio::spawn(async move {
                loop {
                    exchange.find_order(&order).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let headroom = exchange.headroom().private.remaining;
    assert!(headroom >= 4.9, "lookups left {headroom} units");
    for _ in 0..4 {
        let started = Instant::now();
        let balances = exchange.balances().await.expect("Balance is read");
        assert_eq!(balances["ZUSD"], d("100000"));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(500), "Balance took {took:?}");
    }
    // About 2 s in: one unit was left to lookups, and the counter decays 2/3 of one.
    assert!(lookup_calls(&kraken) <= 3, "{:?}", kraken.methods_called());
    for finder in finders {
        finder.abort();
    }
}

#[tokio::test]
async fn a_balance_read_that_would_wait_long_for_the_rate_model_fails_at_once() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken);
    exchange.private().limiter().saturate(&Counter::Private);
    let started = Instant::now();
    let error = exchange.balances().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(error.to_string().contains("rate limit"), "{error}");
    assert_eq!(kraken.calls("Balance"), 0, "not sent");
}

#[tokio::test]
async fn closed_orders_are_paged_until_the_window_is_read() {
    let kraken = FakeKraken::start().await;
    let exchange = Arc::new(client(&kraken));
    let ours = market_order();
    assert!(matches!(
        exchange.add_order(&ours).await.outcome,
        AttemptOutcome::Placed { .. }
    ));
    // 54 newer closed orders push ours to the second page of 50.
    for _ in 0..54 {
        exchange.add_order(&market_order()).await;
    }
    let never_sent = order();
    let outcomes = find_all(&exchange, &[ours.clone(), never_sent]).await;
    assert!(
        matches!(outcomes[0], LookupOutcome::Found { .. }),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[1],
        LookupOutcome::NotFound,
        "only after a complete read"
    );
    assert!(
        kraken.calls("ClosedOrders") >= 2,
        "{:?}",
        kraken.methods_called()
    );
}

#[tokio::test]
async fn past_the_scan_limit_orders_are_looked_up_with_krakens_own_filter() {
    let kraken = FakeKraken::start().await;
    let exchange = Arc::new(client(&kraken));
    let ours = market_order();
    assert!(matches!(
        exchange.add_order(&ours).await.outcome,
        AttemptOutcome::Placed { .. }
    ));
    // More closed orders in the window than one round scans (4 pages of 50).
    kraken.add_foreign_closed_orders(250);
    let never_sent = order();
    let outcomes = find_all(&exchange, &[ours, never_sent]).await;
    assert!(
        matches!(outcomes[0], LookupOutcome::Found { .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], LookupOutcome::NotFound);
    // Four pages, then one filtered call per order.
    assert!(
        kraken.calls("ClosedOrders") <= 4 + 2,
        "{:?}",
        kraken.methods_called()
    );
}

#[tokio::test]
async fn two_orders_sharing_a_userref_leave_the_lookup_ambiguous() {
    let kraken = FakeKraken::start().await;
    let exchange = client(&kraken);
    let with_close = || {
        let mut order = order();
        order.close = Some(CloseOrder {
            order_type: OrderType::StopLoss,
            price: Some(d("45000")),
            price2: None,
        });
        order
    };
    // Same userref (7), pair, side, type, volume and time window: indistinguishable.
    let (ours, theirs) = (with_close(), with_close());
    for order in [&ours, &theirs] {
        let outcome = exchange.add_order(order).await.outcome;
        assert!(
            matches!(outcome, AttemptOutcome::Placed { .. }),
            "{outcome:?}"
        );
    }
    // One still open, the other filled: a lookup that stopped at the open list
    // would take the open one for ours.
    let txids: Vec<String> = kraken.orders().into_iter().map(|o| o.txid).collect();
    kraken.fill(&txids[1]);
    let lookup = exchange.find_order(&ours).await;
    let LookupOutcome::Failed { reason } = &lookup.outcome else {
        panic!("a txid was adopted: {lookup:?}");
    };
    assert!(reason.starts_with("ambiguous"), "{reason}");
    for txid in &txids {
        assert!(reason.contains(txid.as_str()), "{reason}");
    }
    assert!(lookup.response.unwrap().contains("candidates"));
}
