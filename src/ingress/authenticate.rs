//! Proving a signal comes from the source it names, and reading what the request
//! says about its body: the media type and, for `token` sources, the secret the
//! body carries (read leniently by the source's format, compared in constant time).

use std::net::IpAddr;

use axum::http::{header, HeaderMap};

use super::standard_webhooks::{self, WebhookHeaders};
use super::token;
use crate::config::{AuthKind, SourceConfig};
use crate::formats;
use crate::intake::Delivery;

/// The media types a signal may arrive as; the source's format reads the body
/// whatever the type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json` or `application/*+json`.
    Json,
    /// `text/plain` (TradingView when the message is not JSON).
    Text,
    /// `application/x-www-form-urlencoded`: a trailing `=` is stripped.
    Form,
}

/// The request's media type, if it is one a signal may arrive as.
pub fn media_type(headers: &HeaderMap) -> Option<Media> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Some(Media::Json),
        "text/plain" => Some(Media::Text),
        "application/x-www-form-urlencoded" => Some(Media::Form),
        m if m.starts_with("application/") && m.ends_with("+json") => Some(Media::Json),
        _ => None,
    }
}

/// Checks the source's authentication: `None` when it fails (every failure is the
/// same `401`, its reason only logged, without any secret). `text` is the body as
/// its format reads it.
pub fn authenticate<'a>(
    source: &SourceConfig,
    headers: &'a HeaderMap,
    client: IpAddr,
    clock: &crate::clock::SharedClock,
    body: &'a [u8],
    text: &[u8],
) -> Option<Delivery<'a>> {
    let refuse = |why: &str| {
        tracing::info!(source = %source.name, reason = why, "signal authentication failed");
    };
    let Some(secret) = source.secret.as_ref() else {
        refuse("no secret configured");
        return None;
    };
    match source.auth {
        AuthKind::Hmac => {
            let key = standard_webhooks::decode_secret(secret.expose())
                .map_err(|_| refuse("unusable secret"))
                .ok()?;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let webhook = WebhookHeaders {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
            };
            let id = standard_webhooks::verify(&key, webhook, body, clock.now())
                .map_err(|err| refuse(&err.to_string()))
                .ok()?;
            Some(Delivery::WebhookId(id))
        }
        AuthKind::Token => {
            if !token::ip_allowed(&source.allowed_ips, client) {
                refuse("client address not allowed");
                return None;
            }
            // A lenient read of the secret only: parse errors never tell an
            // unauthenticated caller anything.
            let given = formats::body_secret(source.format, text);
            if !token::passphrase_matches(secret.expose(), given.as_deref()) {
                refuse("wrong or missing secret");
                return None;
            }
            Some(Delivery::Body(body))
        }
    }
}
