//! Liveness and safety of the order's life after intake (issue 14): nothing stranded,
//! recovery that cannot stall trading, a halt that stops sending, one resend at most,
//! and our own throttling never counted as an exchange failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tradehook::exchange::{AttemptOutcome, LookupOutcome};

use crate::helpers::*;
use crate::scripted::Scripted;

fn cause_list(order: &Value) -> String {
    order["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["cause"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Posts a market buy with a fresh webhook-id; returns its client order ID.
async fn post_buy(app: &TestApp) -> String {
    let response = app
        .post_hook(
            &format!("msg_{}", uuid::Uuid::new_v4().simple()),
            &market_buy("0.01"),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let record: Value = response.json().await.unwrap();
    record["client_order_id"].as_str().unwrap().to_owned()
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin_status(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/v1/admin/status", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test]
async fn clients_that_hang_up_mid_request_never_strand_their_orders() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    for n in 0..40 {
        let body = market_buy("0.01");
        let mut request = format!(
            "POST /v1/signals/hook HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in signed_headers(&format!("msg_hangup_{n}"), &body) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        // Hang up at once, before (or while) the claim is committed.
        drop(stream);
    }
    let started = Instant::now();
    loop {
        let (_, page) = app.get_audit("/v1/orders?limit=1000").await;
        let orders = page["orders"].as_array().cloned().unwrap_or_default();
        let unsettled = orders
            .iter()
            .filter(|o| o["status"] == "pending" || o["status"] == "unknown")
            .count();
        if unsettled == 0 && started.elapsed() > Duration::from_millis(500) {
            assert!(orders.iter().all(|o| o["status"] == "placed"), "{orders:?}");
            assert_eq!(app.paper().placed_count(), orders.len());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stranded: {orders:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_sweeper_sends_a_pending_order_nothing_is_working_on() {
    let app = spawn_app().await;
    let sent = post_buy(&app).await;
    app.wait_final(&sent).await;
    // A committed `pending` order the executor was never told about: a copy of the
    // first, written behind the service's back, six seconds old.
    let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
    let stranded = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO orders (client_order_id, source, strategy, pair, side, order_type, volume,
             price, notional, status, reasons, signal, content_hash, userref, deadline_at,
             created_at, updated_at)
         SELECT ?, source, strategy, pair, side, order_type, volume, price, notional,
             'pending', reasons, signal, content_hash, userref, ?, ?, ?
         FROM orders WHERE client_order_id = ?",
    )
    .bind(&stranded)
    .bind(now + 4_000)
    .bind(now - 6_000)
    .bind(now - 6_000)
    .bind(&sent)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let order = app
        .wait_final_within(&stranded, Duration::from_secs(15))
        .await;
    assert_eq!(order["status"], "placed", "{order}");
    assert!(cause_list(&order).contains("stranded"), "{order}");
    assert_eq!(app.paper().placed_count(), 2);
}

#[tokio::test]
async fn a_lookup_that_fails_for_good_does_not_stall_recovery_or_new_orders() {
    let scripted = Arc::new(Scripted::new());
    scripted.then(
        AttemptOutcome::Ambiguous {
            reason: "timeout".into(),
        },
        None,
    );
    scripted.lookups_answer(LookupOutcome::Failed {
        reason: "EGeneral:Permission denied".into(),
    });
    let short_deadline = |config: &mut tradehook::config::Config| {
        config.exchange.deadline_secs = 2;
    };
    let app = spawn_app_on_in(
        tempfile::tempdir().unwrap(),
        scripted.clone(),
        short_deadline,
    )
    .await;
    let stuck = post_buy(&app).await;
    wait_until(Duration::from_secs(5), || scripted.lookup_calls() > 0).await;
    let dir = app.stop().await;

    // Restart with the lookups still failing: recovery gives up waiting in bounded
    // time, the order stays `unknown` (and is still looked up), and new orders go out.
    let started = Instant::now();
    let app = spawn_app_on_in(dir, scripted.clone(), short_deadline).await;
    let (status, body) = app.get_audit("/readyz").await;
    assert_eq!(status, 503, "not ready while recovering: {body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains("recover"),
        "{body}"
    );
    let fresh = post_buy(&app).await;
    let order = app.wait_final_within(&fresh, Duration::from_secs(20)).await;
    assert_eq!(order["status"], "placed", "{order}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let (_, stuck_order) = app.get_audit(&format!("/v1/orders/{stuck}")).await;
    assert_eq!(stuck_order["status"], "unknown", "{stuck_order}");
    let status = admin_status(&app).await;
    assert!(
        status["unsettled_orders"].as_u64().unwrap_or(0) >= 1,
        "{status}"
    );
    let (ready, _) = app.get_audit("/readyz").await;
    assert_eq!(ready, 200);
    let lookups = scripted.lookup_calls();
    wait_until(Duration::from_secs(10), || {
        scripted.lookup_calls() > lookups
    })
    .await;
}

#[tokio::test]
async fn a_halt_stops_an_order_waiting_to_retry_from_leaving() {
    let scripted = Arc::new(Scripted::new());
    scripted.then(
        AttemptOutcome::RetryLater {
            error: "EAPI:Rate limit exceeded".into(),
            retry_after: Some(Duration::from_millis(1_500)),
        },
        Some(r#"{"error":["EAPI:Rate limit exceeded"]}"#),
    );
    let app = spawn_app_on_in(tempfile::tempdir().unwrap(), scripted.clone(), |_| {}).await;
    let id = post_buy(&app).await;
    wait_until(Duration::from_secs(5), || scripted.add_order_calls() == 1).await;
    let (status, _) = app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    let order = app.wait_final_within(&id, Duration::from_secs(5)).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert!(cause_list(&order).contains("trading halted"), "{order}");
    assert_eq!(scripted.add_order_calls(), 1, "nothing left after the halt");
}

#[tokio::test]
async fn resend_expired_resends_an_order_at_most_once() {
    let scripted = Arc::new(Scripted::new());
    for _ in 0..3 {
        scripted.then(
            AttemptOutcome::Ambiguous {
                reason: "timeout".into(),
            },
            None,
        );
    }
    scripted.lookups_answer(LookupOutcome::NotFound);
    let app = spawn_app_on_in(tempfile::tempdir().unwrap(), scripted.clone(), |config| {
        config.exchange.deadline_secs = 2;
        config.exchange.resend_expired = true;
    })
    .await;
    let id = post_buy(&app).await;
    let order = app.wait_final_within(&id, Duration::from_secs(30)).await;
    assert_eq!(order["status"], "expired", "{order}");
    assert_eq!(
        scripted.add_order_calls(),
        2,
        "sent once, resent once, never again"
    );
    assert_eq!(
        cause_list(&order).matches("resending").count(),
        1,
        "{order}"
    );
}

#[tokio::test]
async fn waiting_on_our_own_rate_model_is_not_an_exchange_failure() {
    let scripted = Arc::new(Scripted::new());
    // Our client-side model would have the order wait past its deadline: no answer
    // from the exchange at all.
    scripted.then(
        AttemptOutcome::RetryLater {
            error: "client-side rate limit: Kraken would refuse this order now".into(),
            retry_after: Some(Duration::from_secs(60)),
        },
        None,
    );
    // Kraken's own refusal with the same wait counts.
    scripted.then(
        AttemptOutcome::RetryLater {
            error: "EAPI:Rate limit exceeded".into(),
            retry_after: Some(Duration::from_secs(60)),
        },
        Some(r#"{"error":["EAPI:Rate limit exceeded"]}"#),
    );
    let app = spawn_app_on_in(tempfile::tempdir().unwrap(), scripted.clone(), |config| {
        config.risk.max_consecutive_exchange_failures = Some(1);
    })
    .await;
    let ours = post_buy(&app).await;
    let order = app.wait_final(&ours).await;
    assert_eq!(order["status"], "expired", "{order}");
    let status = admin_status(&app).await;
    assert_eq!(status["consecutive_exchange_failures"], 0, "{status}");
    assert_eq!(status["halted"], false, "{status}");

    let theirs = post_buy(&app).await;
    let order = app.wait_final(&theirs).await;
    assert_eq!(order["status"], "expired", "{order}");
    let status = admin_status(&app).await;
    assert_eq!(status["consecutive_exchange_failures"], 1, "{status}");
    assert_eq!(status["halted"], true, "{status}");
}
