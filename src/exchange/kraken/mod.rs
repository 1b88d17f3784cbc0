//! The Kraken REST client: signing, nonces, rate limits and outcome classification.
//!
//! # Layout
//!
//! - [`sign`]: `API-Sign` and the [`sign::Credentials`] it is computed from.
//! - [`nonce`]: strictly increasing, persisted nonces and the per-key send lock.
//! - [`handoff`]: when a signed request has been handed to its connection, so the
//!   nonce lock is released then (not when the answer comes).
//! - [`rate_limit`]: a model of Kraken's counters, to wait before Kraken refuses.
//! - [`errors`]: Kraken error strings → refused / expired / retry later / ambiguous.
//! - [`client`]: the HTTP transport, transport classification, the response envelope.
//! - [`clock_sync`]: Kraken's clock against ours (public `Time`), and the `AddOrder`
//!   deadline translated onto Kraken's clock.
//! - [`order_form`]: the `AddOrder` form, formatted to the pair's precision.
//! - [`calls`]: the private calls that place nothing (`Balance`, `OpenOrders`, ...),
//!   each with a bounded wait for the rate model.
//! - [`lookup`]: recognising our order in `OpenOrders`/`ClosedOrders` answers, and
//!   refusing to pick one of several candidates.
//! - [`batch`] and [`round`]: order lookups queued and served together on one
//!   bounded schedule that leaves room on the rate counter for new orders.
//! - [`trades`]: `TradesHistory`, the gap fill after a long feed outage.
//! - [`public`]: `Ticker`, `AssetPairs`, `SystemStatus`, `Time` (also used in paper mode).
//! - [`private`]: the signed calls; no funding or withdrawal call exists.
//! - [`ws_order`] and [`ws_entry`]: order entry over WebSocket v2 (`add_order`),
//!   with `exchange.transport = "websocket"`.
//! - [`exchange`]: [`KrakenExchange`], the [`crate::exchange::Exchange`] implementation.

pub mod batch;
pub mod calls;
pub mod cancel;
pub mod client;
pub mod clock_sync;
pub mod errors;
pub mod exchange;
pub mod handoff;
pub mod lookup;
pub mod nonce;
pub mod order_form;
pub mod private;
pub mod public;
pub mod rate_limit;
pub mod round;
pub mod sign;
pub mod trades;
pub mod ws;
pub mod ws_entry;
pub mod ws_messages;
pub mod ws_order;

pub use client::KrakenError;
pub use exchange::KrakenExchange;
pub use nonce::{MemoryNonceStore, NonceStore, SqliteNonceStore};
pub use public::KrakenPublic;
