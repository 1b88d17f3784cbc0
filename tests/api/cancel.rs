//! Cancel through the admin API and the CLI: on the paper exchange and on the fake
//! Kraken, recorded once, idempotent (409 saying what the order is).

use serde_json::Value;
use tradehook::config::{Config, Mode};

use crate::fills::{post, wait_status};
use crate::helpers::*;
use crate::support::fake_kraken::FakeKraken;

pub const LIMIT_BUY: &str =
    r#"{"pair":"XBTUSD","side":"buy","order_type":"limit","price":"40000","volume":"0.01"}"#;

async fn cancel(app: &TestApp, id: &str, token: Option<&str>) -> (u16, Value) {
    app.admin(&format!("/v1/orders/{id}/cancel"), token).await
}

#[tokio::test]
async fn a_resting_order_is_cancelled_once_and_a_second_cancel_says_what_it_is() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_cancel_rest", LIMIT_BUY).await;
    wait_status(&app, &id, "placed").await;
    assert_eq!(app.paper().resting_count(), 1);

    let (status, order) = cancel(&app, &id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "canceled");
    assert_eq!(app.paper().resting_count(), 0);
    let detail = wait_status(&app, &id, "canceled").await;
    let last = detail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], "canceled");
    assert_eq!(last["cause"], "canceled by a user (admin API)");
    assert_eq!(last["request"]["cl_ord_id"], id.as_str());

    let (status, again) = cancel(&app, &id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"], "conflict");
    assert_eq!(again["order"]["status"], "canceled");
    assert!(
        again["message"].as_str().unwrap().contains("is canceled"),
        "{again}"
    );
    // A price crossing the old limit fills nothing.
    app.paper().set_price("XBTUSD", "30000".parse().unwrap());
    assert_eq!(app.count("fills").await, 0);
}

#[tokio::test]
async fn cancelling_a_filled_order_is_409_and_sends_nothing() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_cancel_filled", &market_buy("0.01")).await;
    wait_status(&app, &id, "filled").await;
    let (status, body) = cancel(&app, &id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("is filled"),
        "{body}"
    );
    assert_eq!(body["order"]["status"], "filled");
}

#[tokio::test]
async fn cancel_needs_the_admin_token_a_uuid_and_a_known_order() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(cancel(&app, &unknown, None).await.0, 401);
    assert_eq!(cancel(&app, &unknown, Some(AUDIT_TOKEN)).await.0, 401);
    assert_eq!(cancel(&app, &unknown, Some(ADMIN_TOKEN)).await.0, 404);
    let (status, body) = cancel(&app, "not-a-uuid", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "client_order_id");
}

#[tokio::test]
async fn an_open_kraken_order_is_cancelled_by_txid_with_one_cancel_order_call() {
    let kraken = FakeKraken::start().await;
    kraken.set_price("XBTUSD", "50000".parse().unwrap());
    let app = spawn_app_on_kraken(kraken.exchange_config(Mode::Live), |config: &mut Config| {
        config.exchange.deadline_secs = 5;
    })
    .await;
    let id = post(&app, "msg_cancel_kraken", LIMIT_BUY).await;
    let placed = wait_status(&app, &id, "placed").await;
    let txid = placed["txid"].as_str().unwrap().to_owned();

    let (status, order) = cancel(&app, &id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "canceled");
    assert_eq!(kraken.calls("CancelOrder"), 1);
    assert_eq!(kraken.order_by_cl_ord_id(&id).unwrap().status, "canceled");
    let detail = wait_status(&app, &id, "canceled").await;
    let last = detail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["request"]["txid"], txid.as_str());

    // Kraken no longer has it open: a second cancel is answered here, not sent.
    let (status, _) = cancel(&app, &id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 409);
    assert_eq!(kraken.calls("CancelOrder"), 1);
}

#[tokio::test]
async fn tradehook_cancel_asks_the_running_service() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_cancel_cli", LIMIT_BUY).await;
    wait_status(&app, &id, "placed").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cancel.toml");
    let toml = format!(
        "[server]\nadmin_token = \"{ADMIN_TOKEN}\"\n\n[database]\nurl = \"{}\"\n",
        app.db_url
    );
    std::fs::write(&config, toml).unwrap();
    let url = app.address.clone();
    let order_id = id.clone();
    let output = tokio::task::spawn_blocking(move || {
        let first = crate::cli::tradehook(&config, &["cancel", &order_id, "--url", &url]);
        let second = crate::cli::tradehook(&config, &["cancel", &order_id, "--url", &url]);
        (first, second)
    })
    .await
    .unwrap();
    let (first, second) = output;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("HTTP 200"), "{stdout}");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("HTTP 409"));
    wait_status(&app, &id, "canceled").await;
}

#[tokio::test]
async fn with_cancel_open_orders_on_halt_a_halt_cancels_what_rests_on_the_book() {
    let app = spawn_app_with(|config| config.risk.cancel_open_orders_on_halt = true).await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_halt_cancel", LIMIT_BUY).await;
    wait_status(&app, &id, "placed").await;
    let (status, _) = app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    let order = wait_status(&app, &id, "canceled").await;
    let last = order["events"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["cause"].as_str().unwrap().contains("kill switch"),
        "{last}"
    );
    assert_eq!(app.paper().resting_count(), 0);
}

#[tokio::test]
async fn by_default_a_halt_leaves_open_orders_alone() {
    let app = spawn_app().await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    let id = post(&app, "msg_halt_keep", LIMIT_BUY).await;
    wait_status(&app, &id, "placed").await;
    assert_eq!(app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, order) = app.get_audit(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["status"], "placed");
    assert_eq!(app.paper().resting_count(), 1);
}
