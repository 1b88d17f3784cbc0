//! A signal's path through the service: placed, refused, failed, waited for.

use crate::helpers::*;

#[tokio::test]
async fn signed_signal_is_placed_and_its_trail_is_readable() {
    let app = spawn_app().await;
    let response = app.post_hook("msg_placed", &market_buy("0.01")).await;
    assert_eq!(response.status(), 202);
    let accepted: serde_json::Value = response.json().await.unwrap();
    let id = accepted["client_order_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["source"], "hook");
    assert_eq!(accepted["pair"], "XBTUSD");
    assert_eq!(accepted["volume"], "0.01");

    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "placed");
    let txid = order["txid"].as_str().unwrap();
    assert!(txid.starts_with('P'), "paper txid {txid}");
    let events = order["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["status"], "pending");
    let last = events.last().unwrap();
    assert_eq!(last["status"], "placed");
    assert_eq!(last["request"]["cl_ord_id"], id.as_str());
    assert!(last["response"].as_str().unwrap().contains(txid));
    assert_eq!(app.paper().placed_count(), 1);
}

#[tokio::test]
async fn wait_holds_the_reply_until_the_order_is_final() {
    let app = spawn_app().await;
    let response = app.post_hook_query("wait=5", &market_buy("0.02")).await;
    assert_eq!(response.status(), 202);
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(order["status"], "placed");
    assert!(order["txid"].is_string());
}

#[tokio::test]
async fn wait_gives_up_after_its_time_and_returns_the_pending_record() {
    let app = spawn_app().await;
    app.paper().delay(std::time::Duration::from_secs(3));
    let response = app.post_hook_query("wait=1", &market_buy("0.02")).await;
    assert_eq!(response.status(), 202);
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(order["status"], "pending", "{order}");
}

#[tokio::test]
async fn exchange_refusal_is_failed_with_its_error_kept() {
    let app = spawn_app().await;
    app.paper().reject_with(Some("EOrder:Insufficient funds"));
    let response = app.post_hook("msg_refused", &market_buy("0.01")).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["client_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let order = app.wait_final(&id).await;
    assert_eq!(order["status"], "failed");
    assert_eq!(order["error"], "EOrder:Insufficient funds");
    assert!(order["txid"].is_null());
}

#[tokio::test]
async fn pair_not_allowed_is_refused_with_422_and_recorded() {
    let app = spawn_app().await;
    let body = r#"{"pair":"SOL/USD","side":"buy","order_type":"market","volume":"1"}"#;
    let response = app.post_hook("msg_sol", body).await;
    assert_eq!(response.status(), 422);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "risk_refused");
    assert_eq!(error["reasons"][0]["rule"], "pair");
    assert_eq!(error["order"]["status"], "rejected");
    let (_, page) = app.get_audit("/v1/orders?status=rejected").await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 1);
    assert_eq!(app.paper().placed_count(), 0);
}

#[tokio::test]
async fn token_source_accepts_the_passphrase_and_never_stores_it() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"pair":"ETHUSD","side":"sell","order_type":"limit","volume":"0.5","price":"3000.5","passphrase":"{PASSPHRASE}"}}"#
    );
    let response = app.post_with_headers("tv", &body, &[]).await;
    assert_eq!(response.status(), 202);
    let text = response.text().await.unwrap();
    assert!(!text.contains(PASSPHRASE));
    let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT signal FROM orders")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains(PASSPHRASE));
}

#[tokio::test]
async fn locked_database_is_503_and_nothing_is_recorded_or_sent() {
    let app = spawn_app_with(|config| config.database.busy_timeout_ms = 200).await;
    // Another process holds SQLite's write lock.
    use sqlx::Connection as _;
    let mut blocker = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let response = app.post_hook("msg_locked", &market_buy("0.01")).await;
    assert_eq!(response.status(), 503);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "unavailable");
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.paper().placed_count(), 0);
    // The platform's retry then succeeds, once.
    let retry = app.post_hook("msg_locked", &market_buy("0.01")).await;
    assert_eq!(retry.status(), 202);
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_submissions() {
    let app = spawn_app().await;
    app.paper().delay(std::time::Duration::from_millis(500));
    let response = app.post_hook("msg_in_flight", &market_buy("0.01")).await;
    assert_eq!(response.status(), 202);
    let db_url = app.db_url.clone();
    let _dir = app.stop().await;
    let pool = sqlx::SqlitePool::connect(&db_url).await.unwrap();
    let (status, txid): (String, Option<String>) =
        sqlx::query_as("SELECT status, txid FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "placed");
    assert!(txid.is_some());
}
