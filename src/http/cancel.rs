//! `POST /v1/orders/{client_order_id}/cancel` (admin token): cancels an open order on
//! the exchange and records it (see [`crate::fills::cancel`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::fills::cancel::{cancel, CancelError};
use crate::store::orders::OrderRecord;

/// Who a cancel through the API is recorded as.
pub const BY_API: &str = "a user (admin API)";

fn body(error: &'static str, message: String, order: Option<Box<OrderRecord>>) -> ErrorBody {
    ErrorBody {
        error,
        message,
        field: None,
        client_order_id: order.as_ref().map(|o| o.client_order_id),
        reasons: None,
        order,
    }
}

/// A cancel's failure as an answer.
pub struct CancelFailure(CancelError);

impl IntoResponse for CancelFailure {
    fn into_response(self) -> Response {
        match self.0 {
            CancelError::NotFound(_) => ApiError::NotFound.into_response(),
            CancelError::Store(err) => ApiError::Unavailable(err).into_response(),
            CancelError::NotOpen { message, order } => (
                StatusCode::CONFLICT,
                Json(body("conflict", message, Some(order))),
            )
                .into_response(),
            CancelError::Exchange(message) => (
                StatusCode::BAD_GATEWAY,
                Json(body("exchange_error", message, None)),
            )
                .into_response(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/orders/{client_order_id}/cancel",
    tag = "admin",
    params(("client_order_id" = uuid::Uuid, Path, description = "The order's client order ID")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Cancelled on the exchange and recorded `canceled`", body = OrderRecord),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not open (filled, cancelled, refused, or not settled yet); the body says what it is (`order`)", body = ErrorBody),
        (status = 502, description = "The exchange refused or did not answer; nothing recorded (`exchange_error`)", body = ErrorBody),
    )
)]
/// `POST /v1/orders/{client_order_id}/cancel`.
pub async fn cancel_order(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderRecord>, Response> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::field("client_order_id", "not a UUID").into_response())?;
    cancel(&app.store, app.executor.exchange(), id, BY_API)
        .await
        .map(Json)
        .map_err(|err| CancelFailure(err).into_response())
}
