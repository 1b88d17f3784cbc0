//! `POST /v1/signals/{source}`: authenticate, parse, claim, dispatch, answer.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::config::{AuthKind, SourceConfig};
use crate::ingress::standard_webhooks::{self, WebhookHeaders};
use crate::ingress::token;
use crate::intake::{client_order_id, Accepted, Delivery};
use crate::order::OrderStatus;
use crate::signal::{parse_signal, SignalBody};
use crate::store::orders::OrderRecord;

/// `?wait=SECONDS`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    wait: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v1/signals/{source}",
    tag = "signals",
    params(
        ("source" = String, Path, description = "A configured source name"),
        ("wait" = Option<u64>, Query, description = "Hold the reply up to this many seconds (max 30) until the order is final"),
        ("webhook-id" = Option<String>, Header, description = "hmac sources: Standard Webhooks message id"),
        ("webhook-timestamp" = Option<String>, Header, description = "hmac sources: Unix seconds"),
        ("webhook-signature" = Option<String>, Header, description = "hmac sources: space-separated `v1,<base64>` signatures"),
    ),
    request_body(content = SignalBody, content_type = "application/json"),
    responses(
        (status = 202, description = "New signal, passed risk, durably recorded; the order is being sent", body = OrderRecord),
        (status = 200, description = "A repeat of a recorded signal (header `Idempotent-Replayed: true`)", body = OrderRecord),
        (status = 400, description = "Malformed; names the field", body = ErrorBody),
        (status = 401, description = "Authentication failed", body = ErrorBody),
        (status = 409, description = "Same client order ID, different content", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Refused by risk rules; the refusal is recorded", body = ErrorBody),
        (status = 429, description = "Too many signals from this address", body = ErrorBody),
        (status = 503, description = "Database unavailable: nothing recorded or sent", body = ErrorBody),
    )
)]
/// Receives one signal, and counts what became of it.
pub async fn post_signal(
    State(app): State<AppState>,
    Path(source_name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    wait: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let result = receive(&app, &source_name, peer, wait, headers, body).await;
    let source = match app.config.source(&source_name) {
        Some(source) => source.name.as_str(),
        None => "unknown",
    };
    let outcome = match &result {
        Ok(response) if response.status() == StatusCode::ACCEPTED => "accepted",
        Ok(_) => "replayed",
        Err(ApiError::InvalidField { .. }) => "invalid",
        Err(ApiError::Unauthorized) => "unauthorized",
        Err(ApiError::Conflict(_)) => "conflict",
        Err(ApiError::RiskRefused(_)) => "refused",
        Err(ApiError::PayloadTooLarge(_)) => "too_large",
        Err(ApiError::UnsupportedMediaType) => "not_json",
        Err(ApiError::TooManyRequests) => "rate_limited",
        Err(ApiError::Unavailable(_)) => "unavailable",
        Err(ApiError::NotFound) => "not_found",
    };
    app.metrics.signal(source, outcome);
    result
}

async fn receive(
    app: &AppState,
    source_name: &str,
    peer: SocketAddr,
    wait: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client =
        token::forwarded_client_ip(peer.ip(), &headers, &app.config.server.trusted_proxies);
    if !app.limiter.allow(client) {
        return Err(ApiError::TooManyRequests);
    }
    let wait = wait
        .map_err(|e| ApiError::field("wait", e.body_text()))?
        .0
        .wait;
    let wait = Duration::from_secs(wait.unwrap_or(0).min(app.config.server.max_wait_secs));
    let limit = app.config.server.body_limit_bytes;
    let body = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    let source = app.config.source(source_name).ok_or_else(|| {
        tracing::info!(source = %source_name, "signal for an unknown source");
        ApiError::Unauthorized
    })?;
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let delivery = authenticate(source, &headers, client, &app.clock, &body)?;
    let (signal, _passphrase) =
        parse_signal(&body).map_err(|e| ApiError::field(e.field, e.message))?;
    let id = client_order_id(&source.name, &signal, delivery);
    let accepted = app.intake.accept(source, &signal, id).await?;
    match accepted {
        Accepted::New(record) => {
            // The writer has already handed the order to the executor.
            let updates = app.store.subscribe();
            let record = settle(app, record, updates, wait).await?;
            Ok((StatusCode::ACCEPTED, Json(record)).into_response())
        }
        Accepted::Replay(record) => {
            let updates = app.store.subscribe();
            let record = settle(app, record, updates, wait).await?;
            let mut response = (StatusCode::OK, Json(record)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
        Accepted::Conflict(existing) => Err(ApiError::Conflict(Box::new(existing))),
        Accepted::Refused(record) => Err(ApiError::RiskRefused(Box::new(record))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Checks the source's authentication; every failure is the same `401`, its reason
/// only logged (without any secret).
fn authenticate<'a>(
    source: &SourceConfig,
    headers: &'a HeaderMap,
    client: std::net::IpAddr,
    clock: &crate::clock::SharedClock,
    body: &'a [u8],
) -> Result<Delivery<'a>, ApiError> {
    let refuse = |why: &str| {
        tracing::info!(source = %source.name, reason = why, "signal authentication failed");
        ApiError::Unauthorized
    };
    let secret = source
        .secret
        .as_ref()
        .ok_or_else(|| refuse("no secret configured"))?;
    match source.auth {
        AuthKind::Hmac => {
            let key = standard_webhooks::decode_secret(secret.expose())
                .map_err(|_| refuse("unusable secret"))?;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let webhook = WebhookHeaders {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
            };
            let id = standard_webhooks::verify(&key, webhook, body, clock.now())
                .map_err(|err| refuse(&err.to_string()))?;
            Ok(Delivery::WebhookId(id))
        }
        AuthKind::Token => {
            if !token::ip_allowed(&source.allowed_ips, client) {
                return Err(refuse("client address not allowed"));
            }
            // Lenient read of the passphrase: a body that is not even JSON is a 401
            // here, so parse errors never tell an unauthenticated caller anything.
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| refuse("body is not JSON"))?;
            let given = value.get("passphrase").and_then(|p| p.as_str());
            if !token::passphrase_matches(secret.expose(), given) {
                return Err(refuse("wrong passphrase"));
            }
            Ok(Delivery::Body(body))
        }
    }
}

/// Waits up to `wait` for the order to reach a final status; returns its latest record.
/// The caller subscribed to `updates` before the order could change.
async fn settle(
    app: &AppState,
    record: OrderRecord,
    mut updates: broadcast::Receiver<(Uuid, OrderStatus)>,
    wait: Duration,
) -> Result<OrderRecord, ApiError> {
    if wait.is_zero() {
        return Ok(record);
    }
    let id = record.client_order_id;
    let give_up = tokio::time::Instant::now() + wait;
    let mut latest = record;
    loop {
        if let Some(current) = app.store.order(id).await? {
            latest = current;
        }
        if latest.status.is_final() {
            return Ok(latest);
        }
        let next_change = async {
            loop {
                match updates.recv().await {
                    Ok((changed, _)) if changed != id => continue,
                    // Our order changed, or changes were missed: read it again.
                    Ok(_) | Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => return false,
                }
            }
        };
        match tokio::time::timeout_at(give_up, next_change).await {
            Ok(true) => continue,
            Ok(false) | Err(_) => return Ok(latest),
        }
    }
}
