//! `telegram`: a Bot API `sendMessage` in HTML parse mode — every text escaped, the
//! message under Telegram's 4096 characters, optionally into a forum topic. The bot
//! token is part of the URL, so the URL is never logged or stored (see
//! [`super::Channel::send`]).

use serde_json::{json, Value};

use super::Notification;
use crate::notify::config::{ChannelConfig, ChatId};
use crate::notify::message::{render, truncate, Tone};
use crate::secret::Secret;

/// Telegram's limit on a message's text, in characters (after entity parsing); kept
/// well under so escaping and markup never push it over.
pub const MAX_TEXT: usize = 4000;

/// A Telegram chat channel.
pub struct Telegram {
    api_url: String,
    token: Secret,
    chat_id: Value,
    thread: Option<i64>,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram").finish_non_exhaustive()
    }
}

/// Escapes `text` for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Telegram {
    /// From a validated `[[notify]]` entry.
    pub fn new(config: &ChannelConfig) -> anyhow::Result<Telegram> {
        let token = config
            .bot_token
            .clone()
            .ok_or_else(|| anyhow::anyhow!("notify `{}`: bot_token is required", config.name))?;
        let chat_id = match &config.chat_id {
            Some(ChatId::Id(id)) => json!(id),
            Some(ChatId::Name(name)) => json!(name),
            None => anyhow::bail!("notify `{}`: chat_id is required", config.name),
        };
        let api_url = config
            .api_url
            .clone()
            .unwrap_or_else(|| "https://api.telegram.org".into());
        Ok(Telegram {
            api_url: api_url.trim_end_matches('/').to_owned(),
            token,
            chat_id,
            thread: config.message_thread_id,
        })
    }

    /// The message text: a bold title, then `Label: value` lines, all escaped.
    pub fn text(notification: &Notification) -> String {
        let message = render(notification.event, &notification.data);
        let icon = match message.tone {
            Tone::Good => "✅",
            Tone::Bad => "⚠️",
            Tone::Neutral => "ℹ️",
        };
        let mut text = format!("{icon} <b>{}</b>", escape(&truncate(&message.title, 200)));
        for (label, value) in &message.fields {
            let line = format!(
                "\n<b>{}</b>: {}",
                escape(label),
                escape(&truncate(value, 500))
            );
            if text.chars().count() + line.chars().count() > MAX_TEXT {
                text.push_str("\n…");
                break;
            }
            text.push_str(&line);
        }
        text
    }

    /// The `sendMessage` body.
    pub fn body(&self, notification: &Notification) -> Value {
        let mut body = json!({
            "chat_id": self.chat_id,
            "text": Telegram::text(notification),
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        });
        if let Some(thread) = self.thread {
            body["message_thread_id"] = json!(thread);
        }
        body
    }

    /// The request for one attempt.
    pub fn request(
        &self,
        client: &reqwest::Client,
        notification: &Notification,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}/bot{}/sendMessage", self.api_url, self.token.expose());
        client.post(url).json(&self.body(notification))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::events::EventKind;
    use chrono::Utc;

    fn notification(data: Value) -> Notification {
        Notification {
            id: "msg_1".into(),
            event: EventKind::OrderFailed,
            data,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn html_special_characters_are_escaped() {
        let text = Telegram::text(&notification(json!({
            "pair": "XBTUSD", "side": "buy", "error": "EOrder:<Insufficient funds> & more"
        })));
        assert!(
            text.contains("EOrder:&lt;Insufficient funds&gt; &amp; more"),
            "{text}"
        );
        assert!(!text.contains("<Insufficient"));
    }

    #[test]
    fn a_huge_message_stays_under_telegrams_limit() {
        let reasons: Vec<Value> = (0..200)
            .map(|i| json!({"rule": format!("rule_{i}"), "detail": "<&>".repeat(100)}))
            .collect();
        let text = Telegram::text(&notification(json!({"pair": "XBTUSD", "side": "buy",
            "reasons": reasons, "strategy": "x".repeat(5000)})));
        assert!(text.chars().count() < 4096, "{}", text.chars().count());
    }

    #[test]
    fn the_body_names_the_chat_the_topic_and_html_mode() {
        let config: ChannelConfig = toml::from_str(
            "name = \"tg\"\nkind = \"telegram\"\nbot_token = \"123:abc\"\nchat_id = -1001\nmessage_thread_id = 7",
        )
        .unwrap();
        let body = Telegram::new(&config)
            .unwrap()
            .body(&notification(json!({})));
        assert_eq!(body["chat_id"], -1001);
        assert_eq!(body["message_thread_id"], 7);
        assert_eq!(body["parse_mode"], "HTML");
    }
}
