//! Idempotency: a retried or duplicated delivery never makes a second order.

use crate::helpers::*;
use futures::future::join_all;

#[tokio::test]
async fn fifty_concurrent_identical_deliveries_make_exactly_one_order() {
    let app = spawn_app().await;
    let body = market_buy("0.01");
    let headers = signed_headers("msg_dup", &body);
    let responses = join_all((0..50).map(|_| app.post_with_headers("hook", &body, &headers))).await;
    let mut created = 0;
    let mut replayed = 0;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        match response.status().as_u16() {
            202 => created += 1,
            200 => {
                assert_eq!(response.headers()["idempotent-replayed"], "true");
                replayed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
        let order: serde_json::Value = response.json().await.unwrap();
        ids.insert(order["client_order_id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, replayed), (1, 49));
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    app.wait_final(&id).await;
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.paper().placed_count(), 1);
}

#[tokio::test]
async fn same_client_order_id_with_different_content_is_a_conflict() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    let first = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","client_order_id":"{id}"}}"#
    );
    let second = first.replace("0.01", "0.02");
    assert_eq!(app.post_hook("msg_a", &first).await.status(), 202);
    let response = app.post_hook("msg_b", &second).await;
    assert_eq!(response.status(), 409);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "conflict");
    assert_eq!(error["client_order_id"], id.to_string());
    // The same content under a new webhook-id is a replay of the explicit ID.
    let again = app.post_hook("msg_c", &first).await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.count("orders").await, 1);
}

#[tokio::test]
async fn a_replay_returns_the_current_record() {
    let app = spawn_app().await;
    let body = market_buy("0.03");
    let first: serde_json::Value = app
        .post_hook_query("wait=5", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "placed");
    let headers = signed_headers("msg_replay", &body);
    let created = app.post_with_headers("hook", &body, &headers).await;
    assert_eq!(created.status(), 202);
    let id = created.json::<serde_json::Value>().await.unwrap()["client_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_final(&id).await;
    let replay = app.post_with_headers("hook", &body, &headers).await;
    assert_eq!(replay.status(), 200);
    let record: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(record["status"], "placed");
    assert_eq!(app.paper().placed_count(), 2);
}

#[tokio::test]
async fn identical_token_bodies_derive_the_same_client_order_id() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"pair":"XBTUSD","side":"buy","order_type":"market","volume":"0.01","passphrase":"{PASSPHRASE}"}}"#
    );
    assert_eq!(app.post_with_headers("tv", &body, &[]).await.status(), 202);
    assert_eq!(app.post_with_headers("tv", &body, &[]).await.status(), 200);
    assert_eq!(app.count("orders").await, 1);
}
