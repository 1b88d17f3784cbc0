//! Outbound notifications (issue 12) through the running app, delivered to fake
//! receivers (real HTTP servers on port 0, `tests/support/receiver.rs`).

mod chats;
mod cli;
mod delivery;
mod endpoints;
mod restart;
mod webhook;

use std::time::Duration;

use serde_json::Value;
use tradehook::config::Config;
use tradehook::ingress::standard_webhooks;
use tradehook::notify::config::ChannelConfig;

use crate::helpers::*;
use crate::support::receiver::Received;

/// The webhook channels' signing secret (not the sources' one).
pub const WEBHOOK_SECRET: &str = "whsec_bm90aWZ5LXNpZ25pbmcta2V5LTAxMjM0NTY3";
/// The Telegram bot token of the tests.
pub const BOT_TOKEN: &str = "123456:AAbot-token-SECRET_value";

/// A channel from its TOML.
pub fn channel(toml: &str) -> ChannelConfig {
    toml::from_str(toml).expect("channel TOML")
}

/// A webhook channel `name` posting to `url`, taking `events` (default: all).
pub fn webhook(name: &str, url: &str, events: &str) -> ChannelConfig {
    let events = if events.is_empty() {
        String::new()
    } else {
        format!("events = [{events}]\n")
    };
    channel(&format!(
        "name = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}/hooks\"\nsecret = \"{WEBHOOK_SECRET}\"\n{events}"
    ))
}

/// Every event kind, quoted for TOML.
pub const ALL_EVENTS: &str = "\"signal_rejected\", \"order_placed\", \"order_failed\", \
    \"order_expired\", \"order_unknown\", \"halted\", \"resumed\", \"startup\", \"shutdown\", \
    \"daily_summary\"";

/// Quick retries and polling, so tests take seconds.
pub fn fast(config: &mut Config) {
    config.notifications.poll_ms = 50;
    config.notifications.retry_initial_secs = 1;
    config.notifications.retry_max_secs = 2;
    config.notifications.timeout_secs = 2;
    config.notifications.shutdown_grace_secs = 2;
}

/// Checks the Standard Webhooks signature of a delivery with the channel secret;
/// returns the body as JSON.
pub fn verified(received: &Received) -> Value {
    let key = standard_webhooks::decode_secret(WEBHOOK_SECRET).unwrap();
    let headers = standard_webhooks::WebhookHeaders {
        id: Some(received.header("webhook-id")),
        timestamp: Some(received.header("webhook-timestamp")),
        signature: Some(received.header("webhook-signature")),
    };
    standard_webhooks::verify(&key, headers, received.body.as_bytes(), chrono::Utc::now())
        .unwrap_or_else(|err| panic!("signature does not verify: {err}: {received:?}"));
    received.json()
}

/// Successful deliveries of event `kind`.
pub fn of_type<'a>(received: &'a [Received], kind: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.status == 200 && r.json()["type"] == kind)
        .collect()
}

/// Posts a market buy to `hook`; returns its client order ID.
pub async fn buy(app: &TestApp, volume: &str) -> String {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let response = app.post_hook(&id, &market_buy(volume)).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    accepted["client_order_id"].as_str().unwrap().to_owned()
}

/// `GET /v1/notifications[?status=]` as the auditor.
pub async fn notifications(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get_audit(&format!("/v1/notifications{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

/// Waits until `GET /v1/notifications` satisfies `done`, for at most `limit`.
pub async fn wait_notifications(
    app: &TestApp,
    limit: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let all = notifications(app, "?limit=1000").await;
        if done(&all) {
            return all;
        }
        assert!(
            started.elapsed() < limit,
            "notifications not as expected after {limit:?}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
