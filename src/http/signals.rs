//! `POST /v1/signals/{source}`: authenticate, parse, claim, dispatch, answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::formats::pairs::{self, Resolution};
use crate::formats::text::loggable;
use crate::formats::{self, Context, Format};
use crate::ingress::authenticate::{authenticate, media_type, Media};
use crate::ingress::token;
use crate::intake::{client_order_id, Accepted, Delivery};
use crate::order::OrderStatus;
use crate::pairs::short_asset;
use crate::signal::{Amount, Side, Signal, SignalBody};
use crate::store::orders::OrderRecord;
use rust_decimal::Decimal;

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
    request_body(
        description = "The signal in the source's `format`: the native JSON below, a TradingView alert, a 3Commas Signal Bot JSON or OctoBot `KEY=value` lines",
        content(
            (SignalBody = "application/json"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 202, description = "New signal, passed risk, durably recorded; the order is being sent", body = OrderRecord),
        (status = 200, description = "A repeat of a recorded signal (header `Idempotent-Replayed: true`)", body = OrderRecord),
        (status = 400, description = "Malformed; names the field", body = ErrorBody),
        (status = 401, description = "Authentication failed", body = ErrorBody),
        (status = 409, description = "Same client order ID, different content", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json, text/plain or application/x-www-form-urlencoded", body = ErrorBody),
        (status = 422, description = "Refused by risk rules; the refusal is recorded", body = ErrorBody),
        (status = 429, description = "Too many failed authentications from this address, or over the source's `max_signals_per_minute` (with `Retry-After`)", body = ErrorBody),
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
        Err(ApiError::SourceRateLimited(_)) => "source_rate_limited",
        Err(ApiError::Unavailable(_)) => "unavailable",
        Err(ApiError::ExchangeUnavailable(_)) => "unavailable",
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
    let limit = app.config.server.body_limit_bytes;
    // The whole body is read before any answer, so a refused request leaves its
    // keep-alive connection usable.
    let body = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    // Checked alike for every source name, configured or not, so nothing tells an
    // unauthenticated caller whether a source exists.
    let media = media_type(&headers).ok_or(ApiError::UnsupportedMediaType)?;
    if headers
        .get("webhook-id")
        .is_some_and(|id| id.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        return Err(ApiError::field(
            "webhook-id",
            "is empty; every delivery needs its own id",
        ));
    }
    let text = match media {
        // A form post of raw text reads as one key with an empty value: `text=`.
        Media::Form => body.strip_suffix(b"=").unwrap_or(&body),
        Media::Json | Media::Text => &body[..],
    };
    let Some(source) = app.config.source(source_name) else {
        tracing::info!(source = %loggable(source_name), "signal for an unknown source");
        return Err(refuse_unauthenticated(app, client));
    };
    let Some(delivery) = authenticate(source, &headers, client, &app.clock, &body, text) else {
        return Err(refuse_unauthenticated(app, client));
    };
    if let Err(retry) = app.limiter.allow_signal(&source.name) {
        tracing::warn!(source = %source.name, "signal refused: over the source's max_signals_per_minute");
        return Err(ApiError::SourceRateLimited(retry.as_secs().max(1)));
    }
    let wait = wait
        .map_err(|e| ApiError::field("wait", e.body_text()))?
        .0
        .wait;
    let wait = Duration::from_secs(wait.unwrap_or(0).min(app.config.server.max_wait_secs));
    let context = Context {
        allow_leverage: app.config.risk.allow_leverage,
    };
    let parsed = formats::parse(source.format, text, context)
        .map_err(|e| ApiError::field(e.field, e.message))?;
    let mut signal = parsed.signal;
    resolve_pair(app, source.format, &mut signal).await?;
    size_percent(app, &mut signal).await?;
    let delivery = match &parsed.idempotency_key {
        Some(key) => Delivery::Key(key),
        None => delivery,
    };
    let id = client_order_id(&source.name, &signal, delivery);
    let accepted = app.intake.accept(source, &signal, id).await?;
    match accepted {
        Accepted::New(record) => {
            // The writer has already handed the order to the executor.
            let updates = app.store.subscribe();
            let record = settle(app, record, updates, wait).await;
            Ok((StatusCode::ACCEPTED, Json(record)).into_response())
        }
        Accepted::Replay(record) => {
            let updates = app.store.subscribe();
            let record = settle(app, record, updates, wait).await;
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

/// A failed authentication (or an unknown source): `401`, or `429` once the client
/// address is over its allowance of failures. Valid signals never reach this.
fn refuse_unauthenticated(app: &AppState, client: IpAddr) -> ApiError {
    if app.limiter.allow_failure(client) {
        ApiError::Unauthorized
    } else {
        ApiError::TooManyRequests
    }
}

/// Resolves the signal's pair through Kraken's pair table: `pair` becomes the
/// altname (or stays as sent, upper-cased, when unknown: the risk rules refuse it,
/// recorded), `pair_sent` keeps the spelling used when it differs.
async fn resolve_pair(app: &AppState, format: Format, signal: &mut Signal) -> Result<(), ApiError> {
    let sent = signal
        .pair_sent
        .clone()
        .unwrap_or_else(|| signal.pair.clone());
    let table = app.intake.pair_table().await;
    let field = match format {
        Format::Tradehook => "pair",
        Format::Tradingview => "ticker",
        Format::ThreeCommas => "tv_instrument",
        Format::Octobot => "SYMBOL",
    };
    let resolved =
        pairs::resolve(&table, &sent).map_err(|message| ApiError::field(field, message))?;
    signal.pair = match resolved {
        Resolution::Pair(altname) | Resolution::Unknown(altname) => altname,
    };
    signal.pair_sent = (signal.pair != sent).then_some(sent);
    Ok(())
}

/// Turns a `percent` size into an amount: that share of the available quote balance
/// for a buy, of the base balance for a sell (balances cached a few seconds). An
/// unknown pair is left for the risk rules to refuse, recorded.
async fn size_percent(app: &AppState, signal: &mut Signal) -> Result<(), ApiError> {
    let Some(percent) = signal.percent else {
        return Ok(());
    };
    let Some(pair) = app.intake.pair_table().await.get(&signal.pair).cloned() else {
        return Ok(());
    };
    let asset = match signal.side {
        Side::Buy => &pair.quote,
        Side::Sell => &pair.base,
    };
    let balance = app.intake.balance(asset).await.map_err(|err| {
        tracing::warn!(error = %err, "cannot read the balance to size a percent signal");
        ApiError::ExchangeUnavailable("the balance for a percentage size".into())
    })?;
    let share = balance
        .checked_mul(percent)
        .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
        .map(|share| share.normalize())
        .filter(|share| *share > Decimal::ZERO)
        .ok_or_else(|| {
            ApiError::field(
                "percent",
                format!(
                    "{percent}% of the available {} balance ({balance}) is nothing to trade",
                    short_asset(asset)
                ),
            )
        })?;
    signal.amount = match signal.side {
        Side::Buy => Amount::Quote(share),
        Side::Sell => Amount::Base(share),
    };
    Ok(())
}

/// Waits up to `wait` for the order to reach a final status; returns its latest record.
/// The caller subscribed to `updates` before the order could change.
///
/// The signal is recorded by now, so this never fails: should the database not
/// answer, the record in hand is returned (a `5xx` would make a platform resend a
/// signal that is already recorded).
async fn settle(
    app: &AppState,
    record: OrderRecord,
    mut updates: broadcast::Receiver<(Uuid, OrderStatus)>,
    wait: Duration,
) -> OrderRecord {
    if wait.is_zero() {
        return record;
    }
    let id = record.client_order_id;
    let give_up = tokio::time::Instant::now() + wait;
    let mut latest = record;
    loop {
        match app.store.order(id).await {
            Ok(Some(current)) => latest = current,
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a recorded order while waiting on it");
                return latest;
            }
        }
        if latest.status.is_final() {
            return latest;
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
            Ok(false) | Err(_) => return latest,
        }
    }
}
