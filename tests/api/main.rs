//! Integration tests through the HTTP API of a running tradehook, on the paper
//! exchange and on the fake Kraken.

mod audit;
mod auth;
mod cancel;
mod cli;
mod crash;
mod executions;
mod fills;
mod headroom;
mod helpers;
mod idempotency;
mod instances;
mod kraken;
mod liveness;
mod ops;
mod positions;
mod risk;
mod scripted;
mod signals;
#[path = "../support/mod.rs"]
mod support;
mod validation;
