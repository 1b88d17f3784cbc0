//! `GET /v1/orders?pair=` and the export take the pair spellings signals take,
//! resolved by the same resolver, and refuse an unknown or ambiguous pair naming it.

use serde_json::{json, Value};
use tradehook::config::Mode;

use crate::helpers::*;
use crate::support::fake_kraken::FakeKraken;

/// One market buy of `pair` (as spelt); returns its client order ID once final.
async fn place(app: &TestApp, id: &str, pair: &str) -> String {
    let body = format!(r#"{{"pair":"{pair}","side":"buy","order_type":"market","volume":"0.01"}}"#);
    let response = app.post_hook(id, &body).await;
    assert_eq!(response.status(), 202);
    let value: Value = response.json().await.unwrap();
    let id = value["client_order_id"].as_str().unwrap().to_owned();
    app.wait_final(&id).await;
    id
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_pair_spelling_a_signal_may_use_filters_the_listing_and_the_export() {
    let app = spawn_app().await;
    let xbt = place(&app, "msg_filter_xbt", "BTC/USD").await;
    let eth = place(&app, "msg_filter_eth", "ETHUSD").await;
    for spelling in [
        "XBTUSD",
        "BTCUSD",
        "BTC/USD",
        "XBT/USD",
        "XXBTZUSD",
        "btc-usd",
        "KRAKEN:BTCUSD",
    ] {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("pair", spelling)
            .finish();
        let (status, page) = app.get_audit(&format!("/v1/orders?{query}")).await;
        assert_eq!(status, 200, "{spelling}: {page}");
        assert_eq!(ids(&page), vec![xbt.clone()], "{spelling}");
        let response = app
            .client
            .get(format!(
                "{}/v1/orders/export?format=ndjson&{query}",
                app.address
            ))
            .bearer_auth(AUDIT_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{spelling}");
        let text = response.text().await.unwrap();
        assert_eq!(text.lines().count(), 1, "{spelling}: {text}");
        assert!(text.contains(&xbt), "{spelling}: {text}");
    }
    let (_, page) = app.get_audit("/v1/orders?pair=eth/usd").await;
    assert_eq!(ids(&page), vec![eth]);
}

#[tokio::test]
async fn an_unknown_foreign_or_malformed_pair_filter_is_400_naming_the_pair() {
    let app = spawn_app().await;
    for (pair, says) in [
        ("FOOBAR", "FOOBAR"),
        ("BINANCE:BTCUSD", "another exchange"),
        ("BTCUSD.P", "perpetual"),
        ("USD%3F", "USD?"),
    ] {
        for path in ["/v1/orders", "/v1/orders/export"] {
            let (status, error) = app.get_audit(&format!("{path}?pair={pair}")).await;
            assert_eq!(status, 400, "{path} {pair}: {error}");
            assert_eq!(error["error"], "invalid_request", "{error}");
            assert_eq!(error["field"], "pair", "{path} {pair}: {error}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(says), "{path} {pair}: {message}");
        }
    }
}

#[tokio::test]
async fn a_pair_filter_matching_two_kraken_pairs_is_400_naming_both() {
    let kraken = FakeKraken::start().await;
    let pair = |altname: &str, base: &str, quote: &str| {
        json!({"altname": altname, "base": base,
               "quote": quote, "pair_decimals": 1, "lot_decimals": 8, "ordermin": "0.1",
               "costmin": "0.5", "tick_size": "0.1", "status": "online"})
    };
    // No wsname: `ABC/DEF` and `ABCD/EF` would both be `ABCDEF`, an exact name.
    kraken.add_pair("ABCDEF1", pair("ABCDEF1", "ABC", "DEF"));
    kraken.add_pair("ABCDEF2", pair("ABCDEF2", "ABCD", "EF"));
    let app = spawn_app_on_kraken(kraken.exchange_config(Mode::Live), |_| {}).await;
    for path in ["/v1/orders", "/v1/orders/export"] {
        let (status, error) = app.get_audit(&format!("{path}?pair=ABCDEF")).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert_eq!(error["field"], "pair", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("ambiguous"), "{message}");
        assert!(
            message.contains("ABCDEF1") && message.contains("ABCDEF2"),
            "{message}"
        );
    }
    // Either pair by its own name is a plain filter.
    let (status, page) = app.get_audit("/v1/orders?pair=ABC/DEF").await;
    assert_eq!(status, 200, "{page}");
}
