//! `webhook`: the notification as JSON `{"type", "timestamp", "data"}`, signed with
//! Standard Webhooks — the mirror of what `ingress::standard_webhooks` verifies.
//! `webhook-id` is the notification's stable id, so a receiver drops the retries it
//! already took; `webhook-timestamp` is the attempt's.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::Notification;
use crate::ingress::standard_webhooks;
use crate::notify::config::ChannelConfig;
use crate::secret::Secret;

/// A signed-webhook channel.
pub struct Webhook {
    url: Secret,
    /// The decoded `whsec_` key.
    key: Vec<u8>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").finish_non_exhaustive()
    }
}

impl Webhook {
    /// From a validated `[[notify]]` entry.
    pub fn new(config: &ChannelConfig) -> anyhow::Result<Webhook> {
        let url = config
            .url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("notify `{}`: url is required", config.name))?;
        let secret = config
            .secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("notify `{}`: secret is required", config.name))?;
        let key = standard_webhooks::decode_secret(secret.expose())
            .map_err(|msg| anyhow::anyhow!("notify `{}`: secret {msg}", config.name))?;
        Ok(Webhook { url, key })
    }

    /// The body: the same bytes for every attempt.
    pub fn body(notification: &Notification) -> String {
        json!({
            "type": notification.event.as_str(),
            "timestamp": notification.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": notification.data,
        })
        .to_string()
    }

    /// The signed request for one attempt at `now`.
    pub fn request(
        &self,
        client: &reqwest::Client,
        notification: &Notification,
        now: DateTime<Utc>,
    ) -> reqwest::RequestBuilder {
        let body = Webhook::body(notification);
        let timestamp = now.timestamp();
        let signature =
            standard_webhooks::sign(&self.key, &notification.id, timestamp, body.as_bytes());
        client
            .post(self.url.expose())
            .header("content-type", "application/json")
            .header("webhook-id", &notification.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::events::EventKind;

    #[test]
    fn signing_reproduces_the_published_standard_webhooks_test_vector() {
        // The vector of the Standard Webhooks specification: signing outbound with
        // our signer must give exactly its signature.
        let key =
            standard_webhooks::decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = standard_webhooks::sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_request_carries_the_stable_id_and_verifies_with_the_channel_secret() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let config: ChannelConfig = toml::from_str(&format!(
            "name = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"{secret}\""
        ))
        .unwrap();
        let webhook = Webhook::new(&config).unwrap();
        let notification = Notification {
            id: "msg_abc".into(),
            event: EventKind::Halted,
            data: json!({"reason": "admin: test"}),
            created_at: Utc::now(),
        };
        let now = Utc::now();
        let request = webhook
            .request(&reqwest::Client::new(), &notification, now)
            .build()
            .unwrap();
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("webhook-id"), "msg_abc");
        let body = request.body().unwrap().as_bytes().unwrap().to_vec();
        let headers = standard_webhooks::WebhookHeaders {
            id: Some(&header("webhook-id")),
            timestamp: Some(&header("webhook-timestamp")),
            signature: Some(&header("webhook-signature")),
        };
        let key = standard_webhooks::decode_secret(secret).unwrap();
        standard_webhooks::verify(&key, headers, &body, now).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "halted");
        assert_eq!(json["data"]["reason"], "admin: test");
    }
}
