//! The API's errors, mapped to a status and a JSON body `{"error", "message", ...}` in
//! one place. Internal failures are logged with their cause and answered opaquely.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

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

fn body(code: &str, message: impl Into<String>) -> Value {
    json!({"error": code, "message": message.into()})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::InvalidField { field, message } => {
                let mut body = body("invalid_request", format!("{field}: {message}"));
                body["field"] = Value::String(field);
                (StatusCode::BAD_REQUEST, body)
            }
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                body("unauthorized", "authentication failed"),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, body("not_found", "no such order")),
            ApiError::Conflict(existing) => {
                let mut body = body(
                    "conflict",
                    format!(
                        "client_order_id {} is already used by a different signal",
                        existing.client_order_id
                    ),
                );
                body["client_order_id"] = json!(existing.client_order_id);
                (StatusCode::CONFLICT, body)
            }
            ApiError::RiskRefused(order) => {
                let mut body = body(
                    "risk_refused",
                    "refused by risk rules; the refusal is recorded",
                );
                body["reasons"] = order.reasons.clone();
                body["order"] = json!(order);
                (StatusCode::UNPROCESSABLE_ENTITY, body)
            }
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body(
                    "payload_too_large",
                    format!("the request body is over {limit} bytes"),
                ),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                body(
                    "unsupported_media_type",
                    "send the signal as application/json",
                ),
            ),
            ApiError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                body("too_many_requests", "slow down"),
            ),
            ApiError::Unavailable(err) => {
                tracing::error!(error = %err, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body(
                        "unavailable",
                        "the database is unavailable; nothing was recorded or sent",
                    ),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
