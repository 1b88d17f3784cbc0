//! Integration tests through the HTTP API of a running tradehook, on the paper
//! exchange and on the fake Kraken.

mod acme;
mod audit;
mod auth;
mod cli;
mod crash;
mod headroom;
mod helpers;
mod idempotency;
mod instances;
mod kraken;
mod liveness;
mod logs;
mod ops;
mod risk;
mod scripted;
mod signals;
mod slow_clients;
mod slowloris;
#[path = "../support/mod.rs"]
mod support;
mod tls;
mod validation;
