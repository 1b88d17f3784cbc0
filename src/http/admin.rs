//! The admin API: `GET /v1/admin/status`, `POST /v1/admin/halt`, `POST /v1/admin/resume`.
//!
//! The kill switch lives in the database, so a halt survives restarts; while it is on,
//! every new signal is refused by the `halt` risk rule (and recorded as such).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::config::Mode;
use crate::formats::text::free_text_problem;
use crate::risk::{control, Halt};
use crate::store::orders;

/// The service's trading state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminStatus {
    /// Whether new signals are refused.
    pub halted: bool,
    /// Why and since when, while halted.
    #[schema(value_type = Option<Object>)]
    pub halt: Option<Halt>,
    /// Exchange failures in a row, for the circuit breaker.
    pub consecutive_exchange_failures: u32,
    /// `paper`, `validate` or `live`.
    #[schema(value_type = String)]
    pub mode: Mode,
    /// Whether start-up recovery has settled every order of the previous run (or
    /// given up waiting for those it cannot settle yet).
    pub recovered: bool,
    /// Orders not settled yet (`pending` or `unknown`): being sent, or looked up
    /// because their outcome is ambiguous. One that stays here is worth a look.
    pub unsettled_orders: u64,
}

/// Longest halt `reason`: it is echoed in every refusal while halted.
pub const MAX_REASON_LEN: usize = 500;

/// The optional body of `POST /v1/admin/halt`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HaltRequest {
    /// Kept in the halt state and the logs: at most 500 characters, no control or
    /// bidirectional-formatting characters.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

async fn status(app: &AppState) -> Result<AdminStatus, ApiError> {
    let mut conn = app.store.reader().acquire().await?;
    let failures = control::consecutive_failures(&mut conn).await?;
    let halt = app.store.halted();
    let unsettled_orders = orders::count_unsettled(app.store.reader()).await?;
    app.metrics.set_halted(halt.is_some());
    Ok(AdminStatus {
        halted: halt.is_some(),
        halt,
        consecutive_exchange_failures: failures,
        mode: app.config.exchange.mode,
        recovered: app.executor.is_recovered(),
        unsettled_orders,
    })
}

#[utoipa::path(get, path = "/v1/admin/status", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = AdminStatus), (status = 401, body = ErrorBody)))]
/// `GET /v1/admin/status`.
pub async fn get_status(State(app): State<AppState>) -> Result<Json<AdminStatus>, ApiError> {
    Ok(Json(status(&app).await?))
}

#[utoipa::path(post, path = "/v1/admin/halt", tag = "admin", security(("admin_token" = [])),
    request_body(content = Option<HaltRequest>, content_type = "application/json"),
    responses((status = 200, body = AdminStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
/// `POST /v1/admin/halt`: refuse every new signal until resumed.
pub async fn halt(State(app): State<AppState>, body: Bytes) -> Result<Json<AdminStatus>, ApiError> {
    let request: HaltRequest = if body.iter().all(u8::is_ascii_whitespace) {
        HaltRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::field("body", e.to_string()))?
    };
    if let Some(problem) = request
        .reason
        .as_deref()
        .and_then(|r| free_text_problem(r, MAX_REASON_LEN))
    {
        return Err(ApiError::field("reason", problem));
    }
    let reason = format!(
        "admin: {}",
        request
            .reason
            .as_deref()
            .unwrap_or("halted by the operator")
    );
    let newly = app.store.halt(&reason).await?;
    if newly {
        tracing::warn!(%reason, "trading halted");
    }
    Ok(Json(status(&app).await?))
}

#[utoipa::path(post, path = "/v1/admin/resume", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = AdminStatus), (status = 401, body = ErrorBody)))]
/// `POST /v1/admin/resume`: accept signals again (and reset the circuit breaker).
pub async fn resume(State(app): State<AppState>) -> Result<Json<AdminStatus>, ApiError> {
    let was_halted = app.store.resume().await?;
    if was_halted {
        tracing::warn!("trading resumed by the operator");
    }
    Ok(Json(status(&app).await?))
}
