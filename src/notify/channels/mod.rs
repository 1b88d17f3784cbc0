//! How each kind of channel is called: one file per kind builds its request; here the
//! shared HTTP client (with its timeout), the call, and the reading of the answer —
//! success, or a failure to retry, honouring `429` and `Retry-After`.

pub mod discord;
pub mod slack;
pub mod telegram;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::{ChannelConfig, ChannelKind};
use super::events::EventKind;
use super::message::truncate;

/// One stored notification, ready to send.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The stable id (`webhook-id`).
    pub id: String,
    pub event: EventKind,
    pub data: Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

/// What a channel made of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Accepted; what it answered (shortened).
    Delivered(String),
    /// Not accepted; why, and how long the channel asked us to wait.
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
}

/// How a channel is called.
#[derive(Debug)]
enum Kind {
    Webhook(webhook::Webhook),
    Telegram(telegram::Telegram),
    Discord(discord::Discord),
    Slack(slack::Slack),
}

/// A configured channel with its own HTTP client.
#[derive(Debug)]
pub struct Channel {
    pub name: String,
    /// The shortest time between two messages (its rate limit).
    pub interval: Duration,
    kind: Kind,
    client: reqwest::Client,
}

impl Channel {
    /// Builds the channel; `timeout` bounds every call.
    pub fn new(config: &ChannelConfig, timeout: Duration) -> anyhow::Result<Channel> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("tradehook/", env!("CARGO_PKG_VERSION")))
            // A redirect would resend a signed body elsewhere: answered as a failure.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let kind = match config.kind {
            ChannelKind::Webhook => Kind::Webhook(webhook::Webhook::new(config)?),
            ChannelKind::Telegram => Kind::Telegram(telegram::Telegram::new(config)?),
            ChannelKind::Discord => Kind::Discord(discord::Discord::new(config)?),
            ChannelKind::Slack => Kind::Slack(slack::Slack::new(config)?),
        };
        Ok(Channel {
            name: config.name.clone(),
            interval: Duration::from_secs(60) / config.rate_per_minute().max(1),
            kind,
            client,
        })
    }

    /// Sends `notification` once, at `now`.
    pub async fn send(&self, notification: &Notification, now: DateTime<Utc>) -> Delivery {
        let request = match &self.kind {
            Kind::Webhook(c) => c.request(&self.client, notification, now),
            Kind::Telegram(c) => c.request(&self.client, notification),
            Kind::Discord(c) => c.request(&self.client, notification),
            Kind::Slack(c) => c.request(&self.client, notification),
        };
        let response = match request.send().await {
            Ok(response) => response,
            // Without the URL: Telegram's carries the bot token, Discord's and
            // Slack's their webhook token.
            Err(err) => return failed(describe(&err.without_url()), None),
        };
        let status = response.status();
        let header_wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let body = response.text().await.unwrap_or_default();
        let answer = truncate(body.trim(), 300);
        if status.is_success() {
            return Delivery::Delivered(format!("{} {answer}", status.as_u16()).trim().to_owned());
        }
        let retry_after = if status.as_u16() == 429 {
            header_wait
                .or_else(|| body_retry_after(&body))
                .or(Some(Duration::from_secs(1)))
        } else {
            header_wait
        };
        failed(format!("HTTP {}: {answer}", status.as_u16()), retry_after)
    }
}

fn failed(error: String, retry_after: Option<Duration>) -> Delivery {
    Delivery::Failed { error, retry_after }
}

/// A transport error and its causes, on one line.
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    truncate(&text, 300)
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&Utc).signed_duration_since(now);
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The wait a `429` body names: Discord's `retry_after` (seconds) or Telegram's
/// `parameters.retry_after`.
fn body_retry_after(body: &str) -> Option<Duration> {
    let json: Value = serde_json::from_str(body).ok()?;
    let secs = json["retry_after"]
        .as_f64()
        .or_else(|| json["parameters"]["retry_after"].as_f64())?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_429_body_names_its_wait_the_discord_or_the_telegram_way() {
        assert_eq!(
            body_retry_after(r#"{"retry_after": 1.5, "global": false}"#),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            body_retry_after(r#"{"ok":false,"error_code":429,"parameters":{"retry_after":3}}"#),
            Some(Duration::from_secs(3))
        );
    }
}
