//! The audit API: `GET /v1/orders`, `GET /v1/orders/{client_order_id}` and the streamed
//! export.

use axum::extract::{Path, Query, State};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::formats::pairs::{self, Resolution};
use crate::order::OrderStatus;
use crate::pairs::PairTable;
use crate::store::events::{self, Event};
use crate::store::orders::{self, OrderFilter, OrderRecord};

/// Most orders one page may hold.
pub const MAX_LIMIT: u32 = 1000;
const DEFAULT_LIMIT: u32 = 100;

/// The query string of the listing and the export.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only this pair, in any spelling a signal may use (`XBTUSD`, `BTC/USD`,
    /// `KRAKEN:BTCUSD`); an unknown or ambiguous name is a 400.
    pub pair: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only this strategy tag.
    pub strategy: Option<String>,
    /// Only orders created at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only orders created before this RFC 3339 time.
    pub until: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Export only: `csv` or `ndjson` (documented on the export alone).
    #[param(ignore)]
    pub format: Option<String>,
}

fn timestamp(field: &str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| ApiError::field(field, format!("`{t}` is not an RFC 3339 time")))
        })
        .transpose()
}

impl ListQuery {
    /// The validated filter; each bad value is a 400 naming its parameter. The pair
    /// is resolved through `table` as signals' pairs are.
    pub fn filter(&self, table: &PairTable) -> Result<OrderFilter, ApiError> {
        let status = self
            .status
            .as_deref()
            .map(|s| {
                s.parse::<OrderStatus>()
                    .map_err(|e| ApiError::field("status", e))
            })
            .transpose()?;
        let pair = self
            .pair
            .as_deref()
            .map(|sent| filter_pair(table, sent))
            .transpose()?;
        Ok(OrderFilter {
            status,
            pair,
            source: self.source.clone(),
            strategy: self.strategy.clone(),
            since: timestamp("since", &self.since)?,
            until: timestamp("until", &self.until)?,
            before_id: self.cursor.as_deref().map(decode_cursor).transpose()?,
        })
    }

    /// The page size, 1 to [`MAX_LIMIT`].
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.as_deref() {
            None => Ok(DEFAULT_LIMIT),
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::field(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )),
            },
        }
    }
}

/// A `pair` filter as the Kraken altname orders are recorded under, resolved by the
/// signals' resolver: a name no Kraken pair has, or more than one has, is a 400.
fn filter_pair(table: &PairTable, sent: &str) -> Result<String, ApiError> {
    match pairs::resolve(table, sent) {
        Ok(Resolution::Pair(altname)) => Ok(altname),
        Ok(Resolution::Unknown(_)) => Err(ApiError::field(
            "pair",
            format!(
                "`{}` is not a pair in Kraken's pair table",
                sent.chars().take(32).collect::<String>().escape_debug()
            ),
        )),
        Err(message) => Err(ApiError::field("pair", message)),
    }
}

/// Cursors are opaque to clients; today they wrap the last row id seen.
pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o{id}"))
}

/// The row id inside a cursor this service issued; anything else is a `400`.
pub fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix('o').and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::field("cursor", "not a cursor this service issued"))
}

/// One page of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderRecord>,
    /// Pass as `cursor` to get the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "audit",
    params(ListQuery),
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "Orders, newest first", body = OrderPage),
        (status = 400, description = "A bad filter; names it", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
/// `GET /v1/orders`.
pub async fn list_orders(
    State(app): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrderPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    if query.format.is_some() {
        return Err(ApiError::field("format", "only for /v1/orders/export"));
    }
    let limit = query.limit()?;
    let table = app.intake.pair_table().await;
    let orders = orders::list(app.store.reader(), &query.filter(&table)?, limit).await?;
    let next_cursor = match orders.last() {
        Some(last) if orders.len() == limit as usize => Some(encode_cursor(last.id)),
        _ => None,
    };
    Ok(Json(OrderPage {
        orders,
        next_cursor,
    }))
}

/// An order with its audit trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderRecord,
    /// Oldest first.
    pub events: Vec<Event>,
}

#[utoipa::path(
    get,
    path = "/v1/orders/{client_order_id}",
    tag = "audit",
    params(("client_order_id" = uuid::Uuid, Path, description = "The order's client order ID")),
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "The order with its events, oldest first", body = OrderDetail),
        (status = 400, description = "The client order ID is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
/// `GET /v1/orders/{client_order_id}`.
pub async fn get_order(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderDetail>, ApiError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::field("client_order_id", "not a UUID"))?;
    let order = orders::get(app.store.reader(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let events = events::for_order(app.store.reader(), order.id).await?;
    Ok(Json(OrderDetail { order, events }))
}
