//! Operational endpoints: `/healthz` (process up) and `/readyz` (database writable,
//! migrations applied, start-up recovery done).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is up")))]
/// `GET /healthz`.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Database writable, migrations applied, start-up recovery done"),
    (status = 503, description = "Not ready yet")))]
/// `GET /readyz`.
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = app.store.is_ready().await;
    let recovered = app.executor.is_recovered();
    let clock = app.executor.clock_problem();
    let status = if database && recovered && clock.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let reason = if !database {
        Some("the database does not take writes or is not fully migrated")
    } else if !recovered {
        Some("start-up recovery is settling the orders the previous run left unsettled")
    } else {
        clock.as_deref()
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "database": database,
        "recovered": recovered,
        "clock_in_sync": clock.is_none(),
        "reason": reason,
    });
    (status, Json(body))
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus / OpenMetrics text", content_type = "application/openmetrics-text", body = String),
    (status = 401, description = "`server.metrics_public = false` and no audit token", body = super::error::ErrorBody)))]
/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
