//! Integration tests through the HTTP API of a running tradehook, on the paper
//! exchange and on the fake Kraken.

mod acme;
mod audit;
mod auth;
mod auth_limit;
mod cancel;
mod cli;
mod crash;
mod executions;
mod fills;
mod floods;
mod formats;
mod headroom;
mod helpers;
mod hostile;
mod idempotency;
mod ingress;
mod instances;
mod kraken;
mod liveness;
mod logs;
mod notify;
mod ops;
mod order_filters;
mod outcome_logs;
mod positions;
mod risk;
mod scripted;
mod signals;
mod sizing;
mod slow_clients;
mod slowloris;
#[path = "../support/mod.rs"]
mod support;
mod template;
mod tls;
mod validation;
mod ws_orders;
