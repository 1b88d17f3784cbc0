//! `discord`: a channel webhook execute with one embed per notification, within
//! Discord's embed limits (title 256, field name 256, value 1024, 25 fields, 6000
//! characters in all). The webhook URL carries its token and is never logged.

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::Notification;
use crate::notify::config::ChannelConfig;
use crate::notify::message::{render, truncate, Tone};
use crate::secret::Secret;

/// Discord's limits on an embed.
const TITLE: usize = 256;
const FIELD_NAME: usize = 256;
const FIELD_VALUE: usize = 1024;
const FIELDS: usize = 25;
const TOTAL: usize = 6000;

/// A Discord channel webhook.
pub struct Discord {
    url: Secret,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discord").finish_non_exhaustive()
    }
}

impl Discord {
    /// From a validated `[[notify]]` entry.
    pub fn new(config: &ChannelConfig) -> anyhow::Result<Discord> {
        let url = config
            .url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("notify `{}`: url is required", config.name))?;
        Ok(Discord { url })
    }

    /// The webhook body: one embed.
    pub fn body(notification: &Notification) -> Value {
        let message = render(notification.event, &notification.data);
        let color = match message.tone {
            Tone::Good => 0x2e_b8_86,
            Tone::Bad => 0xd9_3f_3f,
            Tone::Neutral => 0x5b_6e_e1,
        };
        let title = truncate(&message.title, TITLE);
        let mut used = title.chars().count();
        let mut fields = Vec::new();
        for (label, value) in message.fields.iter().take(FIELDS) {
            let name = truncate(label, FIELD_NAME);
            let value = truncate(value, FIELD_VALUE);
            let size = name.chars().count() + value.chars().count();
            if used + size > TOTAL - 100 {
                break;
            }
            used += size;
            fields.push(json!({"name": name, "value": value, "inline": value.len() <= 24}));
        }
        json!({
            "username": "tradehook",
            "allowed_mentions": {"parse": []},
            "embeds": [{
                "title": title,
                "color": color,
                "fields": fields,
                "timestamp": notification.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "footer": {"text": notification.event.as_str()},
            }],
        })
    }

    /// The request for one attempt (`?wait=true`: Discord answers with the message).
    pub fn request(
        &self,
        client: &reqwest::Client,
        notification: &Notification,
    ) -> reqwest::RequestBuilder {
        client
            .post(self.url.expose())
            .query(&[("wait", "true")])
            .json(&Discord::body(notification))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::events::EventKind;
    use chrono::Utc;

    #[test]
    fn an_embed_stays_within_discords_limits() {
        let reasons: Vec<Value> = (0..100)
            .map(|i| json!({"rule": format!("r{i}"), "detail": "d".repeat(3000)}))
            .collect();
        let data = json!({"pair": "XBTUSD", "side": "buy", "strategy": "s".repeat(3000),
            "error": "e".repeat(3000), "reasons": reasons});
        let body = Discord::body(&Notification {
            id: "msg_1".into(),
            event: EventKind::SignalRejected,
            data,
            created_at: Utc::now(),
        });
        let embed = &body["embeds"][0];
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.len() <= FIELDS);
        let mut total = embed["title"].as_str().unwrap().chars().count();
        for field in fields {
            let value = field["value"].as_str().unwrap().chars().count();
            assert!(value <= FIELD_VALUE);
            total += value + field["name"].as_str().unwrap().chars().count();
        }
        assert!(total <= TOTAL, "{total}");
        assert_eq!(embed["title"], "Signal rejected: BUY XBTUSD");
    }
}
