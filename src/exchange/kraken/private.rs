//! Kraken's private API: signed POSTs under the per-key nonce lock.
//!
//! Calls: `AddOrder` (from [`super::exchange`]) and, in [`super::calls`],
//! `OpenOrders`, `ClosedOrders`, `QueryOrders`, `CancelOrder`, `Balance`. There is
//! deliberately no funding or withdrawal call, and none can be made through this
//! type: `KrakenPrivate::send` is private to the crate's Kraken module and only those
//! methods name endpoints.
//!
//! # Nonce order without head-of-line blocking
//!
//! Kraken refuses a nonce not above the last one it accepted for the key. The lock is
//! held from issuing the nonce through signing until the request has been handed to
//! its connection ([`super::handoff`]), or at most [`HANDOFF_BOUND`], and is *not*
//! held while waiting for the answer: a slow or hung call (an `AddOrder` Kraken never
//! answers, a lookup stuck behind a proxy) delays the next request by at most that
//! bound, never by its own timeout. Requests therefore leave in nonce order; on one
//! HTTP/2 connection (Kraken negotiates it) they also travel in that order. Over
//! several HTTP/1.1 connections, or when the bound elapses before a new connection
//! is up, a later nonce can arrive first; the earlier request is then refused with
//! `EAPI:Invalid nonce` before reaching the matching engine, which
//! [`super::errors`] classifies as a safe retry with a fresh nonce.
//!
//! Kraken's per-key **nonce window** (a setting of the API key, in nonce units: our
//! nonces are milliseconds, so `5000` is 5 s) accepts a nonce lower than one already
//! used if it is within the window. Setting a window of a few seconds on the key
//! removes these retries. The trade-off Kraken's docs and integrators mention: within
//! the window a *re-sent copy* of a signed request could be accepted again. This
//! client never re-sends a signed request (each attempt has a fresh nonce; no
//! redirect is followed; a written body cannot be retried by the HTTP layer), and the
//! default window of 0 is safe too, only costing a retry now and then.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};

use super::client::{Http, RawReply, SendError};
use super::handoff::{signal_body, HandOff, HANDOFF_BOUND};
use super::nonce::{NonceSequence, NonceStore};
use super::order_form::Field;
use super::rate_limit::RateLimiter;
use super::sign::Credentials;
use crate::clock::SharedClock;

/// How long before the order's deadline our own timeout fires, so that "no answer"
/// always happens before the matching engine's deadline and the deadline can then
/// settle the ambiguity.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Kraken's largest `deadline` offset; also our longest `AddOrder` timeout.
const MAX_ORDER_TIMEOUT: Duration = Duration::from_secs(60);

/// One private request and its answer, as an audit event needs them.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The form as sent, `nonce` included; never the key or the signature.
    pub request: Value,
    pub reply: Result<RawReply, SendError>,
    pub elapsed: Duration,
}

/// How long a private call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// An order's deadline (our clock): the timeout ends [`DEADLINE_MARGIN`] before it.
    Deadline(DateTime<Utc>),
    /// A plain timeout, for calls that place nothing.
    Timeout(Duration),
}

/// The signed half of the Kraken API, for one key.
pub struct KrakenPrivate {
    http: Http,
    credentials: Credentials,
    nonces: Arc<NonceSequence>,
    limiter: Arc<RateLimiter>,
    clock: SharedClock,
}

impl std::fmt::Debug for KrakenPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KrakenPrivate")
            .field("http", &self.http)
            .field("credentials", &self.credentials)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

impl KrakenPrivate {
    /// A client for one key; its nonce sequence is shared with every other client of
    /// the same key in this process.
    pub fn new(
        http: Http,
        credentials: Credentials,
        store: Arc<dyn NonceStore>,
        limiter: Arc<RateLimiter>,
        clock: SharedClock,
    ) -> Self {
        let nonces = NonceSequence::for_key(credentials.key_id(), store, clock.clone());
        KrakenPrivate {
            http,
            credentials,
            nonces,
            limiter,
            clock,
        }
    }

    /// Hash of the API key, for logs and metrics.
    pub fn key_id(&self) -> &str {
        self.credentials.key_id()
    }

    /// The client-side rate-limit model.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Signs and sends one request, holding the key's nonce lock only until the
    /// request is handed to its connection (see the module doc). With a `deadline`
    /// the timeout ends [`DEADLINE_MARGIN`] before it, and nothing is sent if that
    /// leaves no time.
    pub(super) async fn send(&self, method: &str, fields: &[Field], limit: Limit) -> Sent {
        let started = Instant::now();
        let mut guard = self.nonces.lock().await;
        let mut request: Map<String, Value> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::String(value.clone())))
            .collect();
        let nonce = match guard.next().await {
            Ok(nonce) => nonce,
            Err(err) => return not_sent(request, err.to_string(), started),
        };
        let body = encode(nonce, fields, &mut request);
        let timeout = match self.timeout(limit) {
            Ok(timeout) => timeout,
            Err(why) => return not_sent(request, why, started),
        };
        let path = format!("/0/private/{method}");
        let headers = match self.headers(&path, nonce, &body) {
            Ok(headers) => headers,
            Err(why) => return not_sent(request, why, started),
        };
        let (body, handed_off) = signal_body(body);
        let reply = self.http.post_form(&path, headers, body, timeout);
        tokio::pin!(reply);
        let early = tokio::select! {
            reply = &mut reply => Some(reply),
            how = handed_off.wait(HANDOFF_BOUND) => {
                if how == HandOff::BoundElapsed {
                    tracing::debug!(method, nonce, "hand-off bound elapsed; releasing the nonce lock");
                }
                None
            }
        };
        let locked_for = started.elapsed();
        drop(guard);
        let reply = match early {
            Some(reply) => reply,
            None => reply.await,
        };
        tracing::debug!(
            method,
            nonce,
            key_id = %self.key_id(),
            locked_us = locked_for.as_micros() as u64,
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = reply.is_ok(),
            "Kraken private call"
        );
        Sent {
            request: Value::Object(request),
            reply,
            elapsed: started.elapsed(),
        }
    }

    /// The HTTP timeout for `limit`, or why there is no time left to send.
    fn timeout(&self, limit: Limit) -> Result<Duration, String> {
        match limit {
            Limit::Timeout(timeout) => Ok(timeout),
            Limit::Deadline(deadline) => {
                let left = (deadline - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                match left.checked_sub(DEADLINE_MARGIN) {
                    Some(t) if !t.is_zero() => Ok(t.min(MAX_ORDER_TIMEOUT)),
                    _ => Err("the order's deadline is too close to send it".to_owned()),
                }
            }
        }
    }

    fn headers(&self, path: &str, nonce: u64, body: &str) -> Result<HeaderMap, String> {
        let mut key = HeaderValue::from_str(self.credentials.expose_key())
            .map_err(|_| "the API key is not a valid header value".to_owned())?;
        key.set_sensitive(true);
        let mut sign = HeaderValue::from_str(&self.credentials.sign(path, nonce, body))
            .map_err(|_| "the signature is not a valid header value".to_owned())?;
        sign.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("API-Key", key);
        headers.insert("API-Sign", sign);
        Ok(headers)
    }
}

/// The form body, `nonce` first, built once: these exact bytes are signed and sent.
/// Also records the nonce in `request` for the audit trail.
fn encode(nonce: u64, fields: &[Field], request: &mut Map<String, Value>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("nonce", &nonce.to_string());
    request.insert("nonce".into(), Value::String(nonce.to_string()));
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    form.finish()
}

fn not_sent(request: Map<String, Value>, why: String, started: Instant) -> Sent {
    Sent {
        request: Value::Object(request),
        reply: Err(SendError::NotSent(why)),
        elapsed: started.elapsed(),
    }
}
