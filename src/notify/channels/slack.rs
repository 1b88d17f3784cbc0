//! `slack`: an incoming-webhook message in Block Kit — a header and a `mrkdwn` section
//! of labelled lines — with `text` as the fallback notifications show. The webhook URL
//! carries its token and is never logged.

use serde_json::{json, Value};

use super::Notification;
use crate::notify::config::ChannelConfig;
use crate::notify::message::{render, truncate};
use crate::secret::Secret;

/// Slack's limit on a section's text.
const SECTION: usize = 3000;

/// A Slack incoming webhook.
pub struct Slack {
    url: Secret,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack").finish_non_exhaustive()
    }
}

/// Escapes `text` for `mrkdwn` (`&`, `<`, `>`), so nothing becomes a link or mention.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Slack {
    /// From a validated `[[notify]]` entry.
    pub fn new(config: &ChannelConfig) -> anyhow::Result<Slack> {
        let url = config
            .url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("notify `{}`: url is required", config.name))?;
        Ok(Slack { url })
    }

    /// The webhook body.
    pub fn body(notification: &Notification) -> Value {
        let message = render(notification.event, &notification.data);
        let title = truncate(&message.title, 150);
        let mut lines = String::new();
        for (label, value) in &message.fields {
            let line = format!("*{}:* {}\n", escape(label), escape(&truncate(value, 500)));
            if lines.chars().count() + line.chars().count() > SECTION {
                lines.push('…');
                break;
            }
            lines.push_str(&line);
        }
        let mut blocks = vec![json!({
            "type": "header",
            "text": {"type": "plain_text", "text": title, "emoji": true},
        })];
        if !lines.is_empty() {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": lines.trim_end()},
            }));
        }
        json!({"text": escape(&title), "blocks": blocks})
    }

    /// The request for one attempt.
    pub fn request(
        &self,
        client: &reqwest::Client,
        notification: &Notification,
    ) -> reqwest::RequestBuilder {
        client
            .post(self.url.expose())
            .json(&Slack::body(notification))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::events::EventKind;
    use chrono::Utc;

    #[test]
    fn a_message_is_a_header_and_an_escaped_mrkdwn_section() {
        let body = Slack::body(&Notification {
            id: "msg_1".into(),
            event: EventKind::OrderFailed,
            data: json!({"pair": "XBTUSD", "side": "sell", "error": "<!channel> & co"}),
            created_at: Utc::now(),
        });
        assert_eq!(body["blocks"][0]["type"], "header");
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains("*Error:* &lt;!channel&gt; &amp; co"),
            "{section}"
        );
        assert_eq!(body["text"], "Order failed: SELL XBTUSD");
    }
}
