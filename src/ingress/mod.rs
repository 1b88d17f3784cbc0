//! Webhook ingress: proving a signal comes from the source it names, and deriving its
//! client order ID (SPEC §2–3).

pub mod authenticate;
pub mod standard_webhooks;
pub mod token;
