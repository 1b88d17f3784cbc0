//! tradehook turns authenticated trading signals into Kraken orders, exactly once.
//!
//! A signal platform POSTs a signal to a webhook; tradehook authenticates it, checks it
//! against the operator's risk rules, records it durably in SQLite under its client
//! order ID *before* anything is sent, places it on Kraken, and keeps every step and
//! the exchange's answer as an append-only audit trail.
//!
//! # Layout
//!
//! The module tree follows the data, which flows one way:
//!
//! - [`ingress`]: bytes in → authenticated request (Standard Webhooks HMAC or token).
//! - [`signal`]: strict parsing into a validated [`signal::Signal`]; [`pairs`] names them.
//! - [`order`]: statuses and the one transition function.
//! - [`exchange`]: the venue seam: [`exchange::paper`] and [`exchange::kraken`].
//! - [`config`], [`secret`], [`clock`]: settings, redacted secrets, injectable time.
//! - [`notify`]: outbound notifications from a durable outbox (webhook, Telegram, …).
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod exchange;
pub mod executor;
pub mod fills;
pub mod formats;
pub mod http;
pub mod ingress;
pub mod intake;
pub mod metrics;
pub mod notify;
pub mod order;
pub mod outcome_log;
pub mod pairs;
pub mod risk;
pub mod secret;
pub mod serve;
pub mod signal;
pub mod store;
pub mod tls;
