//! The notification API: `GET /v1/notifications?status=` (audit token) lists the
//! outbox, newest first; `POST /v1/notifications/{id}/redeliver` (admin token) sends
//! one again — a `dead` one after the channel is fixed, or a delivered one a receiver
//! lost — under the same id.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::notify::outbox::{DeliveryStatus, OutboxWrite};
use crate::notify::queries::{self, NotificationView};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// The query string of the listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// Only this status: `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// A page of notifications.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<NotificationView>,
}

fn not_found(id: &str) -> Response {
    let body = serde_json::json!({
        "error": "not_found",
        "message": format!("no notification with id `{}`", id.chars().take(80).collect::<String>()),
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    params(NotificationQuery),
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "Notifications, newest first", body = NotificationPage),
        (status = 400, description = "A bad parameter; names it", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
/// `GET /v1/notifications`.
pub async fn list_notifications(
    State(app): State<AppState>,
    query: Result<Query<NotificationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<NotificationPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::field("status", format!("`{s}` is not pending, delivered or dead"))
            })
        })
        .transpose()?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let notifications = queries::list(app.store.reader(), status, limit).await?;
    Ok(Json(NotificationPage { notifications }))
}

#[utoipa::path(
    post,
    path = "/v1/notifications/{id}/redeliver",
    tag = "notifications",
    params(("id" = String, Path, description = "The notification's id")),
    security(("admin_token" = [])),
    responses(
        (status = 202, description = "Queued for delivery again, under the same id", body = NotificationView),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such notification", body = ErrorBody),
    )
)]
/// `POST /v1/notifications/{id}/redeliver`.
pub async fn redeliver(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if queries::get(app.store.reader(), &id).await?.is_none() {
        return Ok(not_found(&id));
    }
    app.store.outbox(OutboxWrite::Redeliver(id.clone())).await?;
    match queries::get(app.store.reader(), &id).await? {
        Some(view) => Ok((StatusCode::ACCEPTED, Json(view)).into_response()),
        None => Ok(not_found(&id)),
    }
}
