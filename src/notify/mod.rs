//! Outbound notifications (issue 12): tell people what happened — a rejected signal,
//! a placed or failed order, a halt — on webhooks, Telegram, Discord and Slack, without
//! ever slowing trading down.
//!
//! # How
//!
//! - [`events`]: what the writer decided becomes outbox rows, one per channel that
//!   wants it ([`routes`]), written in the same transaction as the change itself
//!   ([`outbox`]), so nothing is reported that did not happen and nothing that
//!   happened is lost.
//! - [`worker`]: one task per channel reads due rows from the read pool, delivers them
//!   in order per order, and records each outcome through the writer; failures are
//!   retried with exponential backoff and jitter ([`backoff`]) until they are too old
//!   (`dead`). Trading never waits for any of it.
//! - [`channels`]: how each kind of channel is called; [`message`]: what a human reads.
//! - [`timers`]: `startup`/`shutdown`, `order_unknown` and `daily_summary`.

pub mod backoff;
pub mod channels;
pub mod config;
pub mod events;
pub mod message;
pub mod metrics;
pub mod notifier;
pub mod outbox;
pub mod queries;
pub mod routes;
pub mod timers;
pub mod worker;

pub use notifier::Notifier;
