//! `tradehook notify test [NAME]`: sends a test message through one configured channel
//! (or every one) right away — not through the outbox — and prints what each channel
//! answered. Exits non-zero when a channel did not take it.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::notify::channels::{Delivery, Notification};
use crate::notify::events::EventKind;
use crate::notify::notifier;

/// Arguments of `notify`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

/// What to do with the notification channels.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message through the channel NAME (default: every channel) and
    /// print what it answered.
    Test {
        /// A `[[notify]]` name.
        name: Option<String>,
    },
}

/// Runs `notify …`.
pub async fn run(config: &Config, args: NotifyArgs) -> anyhow::Result<()> {
    let NotifyCommand::Test { name } = args.command;
    anyhow::ensure!(
        !config.notify.is_empty(),
        "no [[notify]] channel is configured"
    );
    let channels = notifier::channels(config).context("building the channels")?;
    let chosen: Vec<_> = match &name {
        Some(name) => {
            let found: Vec<_> = channels.into_iter().filter(|c| &c.name == name).collect();
            if found.is_empty() {
                let names: Vec<&str> = config.notify.iter().map(|c| c.name.as_str()).collect();
                anyhow::bail!(
                    "no channel named `{name}`; configured: {}",
                    names.join(", ")
                );
            }
            found
        }
        None => channels,
    };
    let now = chrono::Utc::now();
    let mut failures = 0;
    for channel in chosen {
        let notification = Notification {
            id: format!("msg_test_{}", uuid::Uuid::new_v4().simple()),
            event: EventKind::Test,
            data: json!({
                "message": "If you can read this, tradehook can reach this channel.",
                "channel": channel.name,
            }),
            created_at: now,
        };
        match channel.send(&notification, now).await {
            Delivery::Delivered(answer) => {
                println!(
                    "{}: delivered ({}): {answer}",
                    channel.name, notification.id
                );
            }
            Delivery::Failed { error, .. } => {
                failures += 1;
                println!("{}: FAILED ({}): {error}", channel.name, notification.id);
            }
        }
    }
    anyhow::ensure!(
        failures == 0,
        "{failures} channel(s) did not take the test message"
    );
    Ok(())
}
