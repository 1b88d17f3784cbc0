//! The API's errors, mapped to a status and a JSON body `{"error", "message", ...}` in
//! one place. Internal failures are logged with their cause and answered opaquely.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::store::orders::OrderRecord;
use crate::store::StoreError;

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request, naming the offending field.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    /// Authentication failed; deliberately says nothing more.
    #[error("authentication failed")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    /// The client order ID belongs to a different signal.
    #[error("client order ID conflict")]
    Conflict(Box<OrderRecord>),
    /// Refused by risk rules; the refusal is recorded.
    #[error("refused by risk rules")]
    RiskRefused(Box<OrderRecord>),
    #[error("request body over {0} bytes")]
    PayloadTooLarge(usize),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("too many requests")]
    TooManyRequests,
    /// The exchange could not tell what the signal needs (a balance): nothing was
    /// recorded or sent.
    #[error("exchange unavailable: {0}")]
    ExchangeUnavailable(String),
    /// Over the source's own `max_signals_per_minute`; retry after this many seconds.
    #[error("over the source's signal rate")]
    SourceRateLimited(u64),
    /// The database is unavailable: nothing was recorded, nothing sent.
    #[error("database unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Unavailable(err.into())
    }
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code (`invalid_request`, `unauthorized`, `conflict`,
    /// `risk_refused`, `payload_too_large`, `unsupported_media_type`,
    /// `too_many_requests`, `unavailable`, `not_found`).
    pub error: &'static str,
    /// What went wrong, for a human.
    pub message: String,
    /// `invalid_request`: the offending field or parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `conflict`: the client order ID already taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<uuid::Uuid>,
    /// `risk_refused`: every rule that refused, `[{rule, detail}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub reasons: Option<Value>,
    /// `risk_refused`: the recorded `rejected` order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Box<OrderRecord>>,
}

impl ErrorBody {
    fn new(error: &'static str, message: impl Into<String>) -> Self {
        ErrorBody {
            error,
            message: message.into(),
            field: None,
            client_order_id: None,
            reasons: None,
            order: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::InvalidField { field, message } => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    field: Some(field.clone()),
                    ..ErrorBody::new("invalid_request", format!("{field}: {message}"))
                },
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new("unauthorized", "authentication failed"),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorBody::new("not_found", "no such order"),
            ),
            ApiError::Conflict(existing) => (
                StatusCode::CONFLICT,
                ErrorBody {
                    client_order_id: Some(existing.client_order_id),
                    ..ErrorBody::new(
                        "conflict",
                        format!(
                            "client_order_id {} is already used by a different signal",
                            existing.client_order_id
                        ),
                    )
                },
            ),
            ApiError::RiskRefused(order) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    reasons: Some(order.reasons.clone()),
                    order: Some(order),
                    ..ErrorBody::new(
                        "risk_refused",
                        "refused by risk rules; the refusal is recorded",
                    )
                },
            ),
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorBody::new(
                    "payload_too_large",
                    format!("the request body is over {limit} bytes"),
                ),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorBody::new(
                    "unsupported_media_type",
                    "send the signal as application/json, text/plain or application/x-www-form-urlencoded",
                ),
            ),
            ApiError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorBody::new(
                    "too_many_requests",
                    "too many failed authentications from this address; slow down",
                ),
            ),
            ApiError::ExchangeUnavailable(what) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody::new(
                    "unavailable",
                    format!("the exchange did not tell {what}; nothing was recorded or sent"),
                ),
            ),
            ApiError::SourceRateLimited(retry_after) => {
                let body = ErrorBody::new(
                    "too_many_requests",
                    format!(
                        "over this source's max_signals_per_minute; retry in {retry_after} s"
                    ),
                );
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, retry_after.into());
                return response;
            }
            ApiError::Unavailable(err) => {
                tracing::error!(error = %err, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorBody::new(
                        "unavailable",
                        "the database is unavailable; nothing was recorded or sent",
                    ),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
