//! The execution views of the audit API: `GET /v1/positions` and `GET /v1/stats`.

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::fills::positions::{self, Positions};
use crate::fills::stats::{self, Stats};

#[utoipa::path(
    get,
    path = "/v1/positions",
    tag = "audit",
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "Net volume, average entry, realised P&L and fees from the recorded fills, by pair and by pair, source and strategy", body = Positions),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
/// `GET /v1/positions`.
pub async fn get_positions(State(app): State<AppState>) -> Result<Json<Positions>, ApiError> {
    let fills = positions::load(app.store.reader()).await?;
    Ok(Json(positions::compute(&fills)))
}

/// The query string of `GET /v1/stats`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Count orders created at or after this RFC 3339 time (default: 24 hours ago).
    pub since: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "audit",
    params(StatsQuery),
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "Signals by outcome, orders by status, fill ratio, latency percentiles", body = Stats),
        (status = 400, description = "A bad `since`; names it", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
/// `GET /v1/stats`.
pub async fn get_stats(
    State(app): State<AppState>,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let since = match query.since.as_deref() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| ApiError::field("since", format!("`{text}` is not an RFC 3339 time")))?,
        None => app.clock.now() - Duration::hours(24),
    };
    Ok(Json(stats::load(app.store.reader(), since).await?))
}
