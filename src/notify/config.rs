//! `[[notify]]` channels and `[notifications]` settings, their secret files and their
//! validation (each failure naming the key at fault).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::EventKind;
use crate::config::{ConfigError, SourceConfig};
use crate::secret::Secret;

/// How a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A JSON POST signed with Standard Webhooks.
    Webhook,
    /// A Telegram bot message.
    Telegram,
    /// A Discord channel webhook (an embed).
    Discord,
    /// A Slack incoming webhook (Block Kit).
    Slack,
}

impl ChannelKind {
    /// `webhook`, `telegram`, `discord` or `slack`.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Discord => "discord",
            ChannelKind::Slack => "slack",
        }
    }
}

/// A Telegram chat: its numeric id or `@channelusername`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatId {
    Id(i64),
    Name(String),
}

/// `[[notify]]`: one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Its name in the outbox, the API, the metrics and `notify test NAME`.
    pub name: String,
    pub kind: ChannelKind,
    /// Events it takes; default: every event but `signal_rejected`.
    pub events: Option<Vec<EventKind>>,
    /// Order events only from these `[[sources]]`; default: all.
    pub sources: Option<Vec<String>>,
    /// Webhook, Discord or Slack URL (a secret: Discord and Slack URLs carry a token).
    pub url: Option<Secret>,
    /// A file holding `url`.
    pub url_file: Option<PathBuf>,
    /// Webhook signing secret, `whsec_…`.
    pub secret: Option<Secret>,
    /// A file holding `secret`.
    pub secret_file: Option<PathBuf>,
    /// Telegram bot token.
    pub bot_token: Option<Secret>,
    /// A file holding `bot_token`.
    pub bot_token_file: Option<PathBuf>,
    /// Telegram chat.
    pub chat_id: Option<ChatId>,
    /// Telegram forum topic.
    pub message_thread_id: Option<i64>,
    /// Telegram Bot API base URL; default `https://api.telegram.org`.
    pub api_url: Option<String>,
    /// Messages per minute at most; default 60 for Telegram (1/s per chat), 30 for
    /// Discord, 60 for Slack, 600 for webhooks.
    pub rate_limit_per_minute: Option<u32>,
}

impl ChannelConfig {
    /// The events it takes.
    pub fn subscribed(&self) -> Vec<EventKind> {
        match &self.events {
            Some(events) => events.clone(),
            None => EventKind::ALL
                .into_iter()
                .filter(|kind| *kind != EventKind::SignalRejected)
                .collect(),
        }
    }

    /// Messages per minute at most.
    pub fn rate_per_minute(&self) -> u32 {
        self.rate_limit_per_minute.unwrap_or(match self.kind {
            ChannelKind::Telegram | ChannelKind::Slack => 60,
            ChannelKind::Discord => 30,
            ChannelKind::Webhook => 600,
        })
    }
}

/// `[notifications]`: how the outbox is delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// How often the worker looks for due notifications, in milliseconds.
    pub poll_ms: u64,
    /// First retry delay; doubled per attempt, with jitter.
    pub retry_initial_secs: u64,
    /// Longest retry delay.
    pub retry_max_secs: u64,
    /// Age after which an undelivered notification is given up (`dead`).
    pub give_up_after_secs: u64,
    /// Longest a channel may take to answer one delivery.
    pub timeout_secs: u64,
    /// `order_unknown` when an order is still unsettled this long; 0 disables.
    pub order_unknown_after_secs: u64,
    /// `daily_summary` at this UTC time (`HH:MM`); unset disables it.
    pub daily_summary_at: Option<String>,
    /// How long shutdown waits for the `shutdown` notification to go out.
    pub shutdown_grace_secs: u64,
    /// Delivered and dead notifications are deleted after this many days; 0 keeps
    /// them forever.
    pub retain_days: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            poll_ms: 500,
            retry_initial_secs: 5,
            retry_max_secs: 600,
            give_up_after_secs: 24 * 3600,
            timeout_secs: 10,
            order_unknown_after_secs: 300,
            daily_summary_at: None,
            shutdown_grace_secs: 3,
            retain_days: 30,
        }
    }
}

impl NotificationsConfig {
    /// `daily_summary_at` as (hour, minute), if set and well-formed.
    pub fn summary_time(&self) -> Option<chrono::NaiveTime> {
        let text = self.daily_summary_at.as_deref()?;
        chrono::NaiveTime::parse_from_str(text, "%H:%M").ok()
    }
}

fn invalid(key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn read_file(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}

/// Reads every channel's `*_file` into its secret.
pub fn read_secret_files(channels: &mut [ChannelConfig]) -> Result<(), ConfigError> {
    for (i, channel) in channels.iter_mut().enumerate() {
        for (field, file, value) in [
            ("url_file", &channel.url_file, &mut channel.url),
            ("secret_file", &channel.secret_file, &mut channel.secret),
            (
                "bot_token_file",
                &channel.bot_token_file,
                &mut channel.bot_token,
            ),
        ] {
            let Some(path) = file else { continue };
            let key = format!("notify[{i}].{field}");
            if value.is_some() {
                return Err(invalid(key, "set either the value or its file, not both"));
            }
            *value = Some(read_file(path).map_err(|msg| invalid(key, msg))?);
        }
    }
    Ok(())
}

/// Checks the channels and settings, naming the key at fault.
pub fn validate(
    channels: &[ChannelConfig],
    settings: &NotificationsConfig,
    sources: &[SourceConfig],
) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for (i, channel) in channels.iter().enumerate() {
        let key = |field: &str| format!("notify[{i}].{field}");
        crate::config::check_name(key("name"), &channel.name, &mut names)?;
        if channel.events.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(key("events"), "lists no event"));
        }
        for source in channel.sources.iter().flatten() {
            if !sources.iter().any(|s| &s.name == source) {
                return Err(invalid(
                    key("sources"),
                    format!("no source named `{source}`"),
                ));
            }
        }
        if channel.rate_limit_per_minute == Some(0) {
            return Err(invalid(key("rate_limit_per_minute"), "must be at least 1"));
        }
        validate_kind(channel, &key)?;
    }
    if settings.poll_ms == 0 || settings.poll_ms > 60_000 {
        return Err(invalid("notifications.poll_ms".into(), "must be 1-60000"));
    }
    if settings.retry_initial_secs == 0 || settings.retry_initial_secs > settings.retry_max_secs {
        return Err(invalid(
            "notifications.retry_initial_secs".into(),
            "must be at least 1 and at most retry_max_secs",
        ));
    }
    if settings.timeout_secs == 0 || settings.timeout_secs > 120 {
        return Err(invalid(
            "notifications.timeout_secs".into(),
            "must be 1-120",
        ));
    }
    if settings.daily_summary_at.is_some() && settings.summary_time().is_none() {
        return Err(invalid(
            "notifications.daily_summary_at".into(),
            "must be a UTC time HH:MM, e.g. \"21:00\"",
        ));
    }
    Ok(())
}

fn validate_kind(channel: &ChannelConfig, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    let require_url = |field: &str, url: Option<&str>| -> Result<(), ConfigError> {
        let url = url.ok_or_else(|| invalid(key(field), "required"))?;
        match reqwest::Url::parse(url) {
            Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => Ok(()),
            // The value itself is left out: it may carry a token.
            _ => Err(invalid(key(field), "must be an http(s) URL")),
        }
    };
    let url = channel.url.as_ref().map(Secret::expose);
    match channel.kind {
        ChannelKind::Webhook => {
            require_url("url", url)?;
            let secret = channel
                .secret
                .as_ref()
                .ok_or_else(|| invalid(key("secret"), "required"))?;
            crate::ingress::standard_webhooks::decode_secret(secret.expose())
                .map_err(|msg| invalid(key("secret"), msg))?;
        }
        ChannelKind::Telegram => {
            let token = channel
                .bot_token
                .as_ref()
                .ok_or_else(|| invalid(key("bot_token"), "required"))?;
            let plausible = !token.expose().is_empty()
                && token
                    .expose()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_' || c == '-');
            if !plausible {
                return Err(invalid(key("bot_token"), "is not a Telegram bot token"));
            }
            if channel.chat_id.is_none() {
                return Err(invalid(key("chat_id"), "required"));
            }
            if let Some(api) = &channel.api_url {
                require_url("api_url", Some(api))?;
            }
        }
        ChannelKind::Discord | ChannelKind::Slack => require_url("url", url)?,
    }
    Ok(())
}
