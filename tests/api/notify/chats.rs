//! The chat channels (Telegram, Discord, Slack) against fake receivers: the right
//! request and a readable message for each, Telegram's one message per second, and
//! no secret in any message, answer or record.

use std::time::Duration;

use super::*;
use crate::support::receiver::Receiver;

const DISCORD_TOKEN: &str = "discord-webhook-TOKEN-secret";
const SLACK_TOKEN: &str = "slack-webhook-TOKEN-secret";

/// Everything secret the app knows in these tests.
fn secrets() -> Vec<&'static str> {
    vec![
        BOT_TOKEN,
        WEBHOOK_SECRET,
        WEBHOOK_SECRET.trim_start_matches("whsec_"),
        HMAC_SECRET.trim_start_matches("whsec_"),
        PASSPHRASE,
        AUDIT_TOKEN,
        ADMIN_TOKEN,
        DISCORD_TOKEN,
        SLACK_TOKEN,
    ]
}

fn telegram(url: &str) -> ChannelConfig {
    channel(&format!(
        "name = \"phone\"\nkind = \"telegram\"\nbot_token = \"{BOT_TOKEN}\"\nchat_id = -100123\n\
         message_thread_id = 42\napi_url = \"{url}\"\nevents = [{ALL_EVENTS}]"
    ))
}

#[tokio::test]
async fn telegram_discord_and_slack_each_get_a_readable_message_and_no_secret_anywhere() {
    let (tg, discord, slack, hook) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let (tg_url, discord_url, slack_url, hook_url) =
        (tg.url(), discord.url(), slack.url(), hook.url());
    let app = spawn_app_with(|config| {
        config.notify = vec![
            telegram(&tg_url),
            channel(&format!(
                "name = \"team\"\nkind = \"discord\"\nurl = \"{discord_url}/api/webhooks/1/{DISCORD_TOKEN}\"\nevents = [{ALL_EVENTS}]"
            )),
            channel(&format!(
                "name = \"desk\"\nkind = \"slack\"\nurl = \"{slack_url}/services/T0/B0/{SLACK_TOKEN}\"\nevents = [{ALL_EVENTS}]"
            )),
            webhook("ops", &hook_url, ALL_EVENTS),
        ];
        fast(config);
    })
    .await;
    // A token source's signal: its passphrase must not travel on.
    let body = format!(
        r#"{{"pair":"ETHUSD","side":"sell","order_type":"limit","volume":"0.5","price":"3000.5","strategy":"mean<revert>&co","passphrase":"{PASSPHRASE}"}}"#
    );
    let response = app.post_with_headers("tv", &body, &[]).await;
    assert_eq!(response.status(), 202);
    app.paper().reject_with(Some("EOrder:Insufficient funds"));
    let failed = buy(&app, "0.02").await;
    app.wait_final(&failed).await;
    app.paper().reject_with(None);
    assert_eq!(app.admin("/v1/admin/halt", Some(ADMIN_TOKEN)).await.0, 200);

    // startup, order_placed, order_failed, halted on each channel.
    let limit = Duration::from_secs(30);
    let tg_got = tg
        .wait_for(limit, |r| r.iter().filter(|r| r.status == 200).count() >= 4)
        .await;
    let discord_got = discord.wait_for(limit, |r| r.len() >= 4).await;
    let slack_got = slack.wait_for(limit, |r| r.len() >= 4).await;
    let hook_got = hook.wait_for(limit, |r| r.len() >= 4).await;

    // Telegram: the bot API call, HTML mode, escaped, the topic, at most 1 message/s.
    for request in &tg_got {
        assert_eq!(request.path, format!("/bot{BOT_TOKEN}/sendMessage"));
        let body = request.json();
        assert_eq!(body["chat_id"], -100123);
        assert_eq!(body["message_thread_id"], 42);
        assert_eq!(body["parse_mode"], "HTML");
        assert!(body["text"].as_str().unwrap().chars().count() < 4096);
    }
    let placed = tg_got
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .find(|t| t.contains("Order placed"))
        .expect("a Telegram message for the placed order");
    for part in [
        "<b>Order placed: SELL ETHUSD</b>",
        "<b>Pair</b>: ETHUSD",
        "<b>Volume</b>: 0.5",
        "<b>Price</b>: 3000.5",
        "<b>Status</b>: placed",
        "<b>Strategy</b>: mean&lt;revert&gt;&amp;co",
        "<b>Source</b>: tv",
    ] {
        assert!(placed.contains(part), "{part} in {placed}");
    }
    for pair in tg_got.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(950),
            "Telegram messages {gap:?} apart"
        );
    }

    // Discord: one embed per event, within limits, nothing mentionable.
    let embeds: Vec<Value> = discord_got
        .iter()
        .map(|r| r.json()["embeds"][0].clone())
        .collect();
    let failed_embed = embeds
        .iter()
        .find(|e| e["title"] == "Order failed: BUY XBTUSD")
        .expect("a Discord embed for the failed order");
    let fields = failed_embed["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
    };
    assert_eq!(field("Error"), Some("EOrder:Insufficient funds".into()));
    assert_eq!(field("Volume"), Some("0.02".into()));
    assert_eq!(field("Source"), Some("hook".into()));
    assert!(discord_got
        .iter()
        .all(|r| r.path == format!("/api/webhooks/1/{DISCORD_TOKEN}")));
    assert!(discord_got
        .iter()
        .all(|r| r.json()["allowed_mentions"]["parse"] == serde_json::json!([])));

    // Slack: Block Kit with a text fallback.
    let halted = slack_got
        .iter()
        .map(Received::json)
        .find(|b| b["text"] == "Trading halted")
        .expect("a Slack message for the halt");
    assert_eq!(halted["blocks"][0]["type"], "header");
    assert!(halted["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("*Reason:* admin:"));

    // No secret in any message, header, or what the API shows.
    let (_, listed) = app.get_audit("/v1/notifications?limit=1000").await;
    let mut texts = vec![listed.to_string()];
    for request in tg_got
        .iter()
        .chain(&discord_got)
        .chain(&slack_got)
        .chain(&hook_got)
    {
        texts.push(request.body.clone());
        let mut headers: Vec<_> = request.headers.iter().collect();
        headers.retain(|(name, _)| name.as_str() != "host");
        texts.push(format!("{headers:?}"));
    }
    for text in &texts {
        for secret in secrets() {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
}

#[tokio::test]
async fn a_failing_chat_delivery_records_why_without_the_token_in_the_url() {
    let mut tg = Receiver::start().await;
    let tg_url = tg.url();
    tg.stop().await;
    let mut discord = Receiver::start().await;
    let discord_url = discord.url();
    discord.stop().await;
    let app = spawn_app_with(|config| {
        config.notify = vec![
            telegram(&tg_url),
            channel(&format!(
                "name = \"team\"\nkind = \"discord\"\nurl = \"{discord_url}/api/webhooks/1/{DISCORD_TOKEN}\""
            )),
        ];
        fast(config);
    })
    .await;
    let failed = wait_notifications(&app, Duration::from_secs(20), |all| {
        all.len() >= 2 && all.iter().all(|n| n["attempts"].as_i64().unwrap() >= 1)
    })
    .await;
    for notification in &failed {
        let error = notification["last_error"].as_str().unwrap();
        assert!(!error.is_empty());
        for secret in secrets() {
            assert!(!error.contains(secret), "{error}");
        }
    }
    // An error answer from the channel is recorded too, still without the token.
    tg.restart().await;
    tg.always(crate::support::receiver::Answer::Status(401));
    tg.wait_for(Duration::from_secs(20), |r| !r.is_empty())
        .await;
    let recorded = wait_notifications(&app, Duration::from_secs(20), |all| {
        all.iter()
            .any(|n| n["last_error"].as_str().unwrap_or("").contains("HTTP 401"))
    })
    .await;
    assert!(!recorded.iter().any(|n| n.to_string().contains(BOT_TOKEN)));
}
