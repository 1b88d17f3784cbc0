//! Test support shared by integration tests: the fake Kraken and the fake
//! notification receiver.
//!
//! Each test binary uses a different part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod fake_kraken;
pub mod receiver;
