//! Integration tests through the HTTP API of a running tradehook (paper exchange).

mod audit;
mod auth;
mod cli;
mod helpers;
mod idempotency;
mod ops;
mod risk;
mod signals;
mod validation;
