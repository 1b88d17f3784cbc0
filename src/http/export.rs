//! `GET /v1/orders/export?format=csv|ndjson`: every matching order, streamed page by
//! page so memory stays flat however many rows match.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};

use super::error::{ApiError, ErrorBody};
use super::orders::ListQuery;
use super::AppState;
use crate::store::orders::{self, OrderFilter, OrderRecord};

const PAGE: u32 = 500;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
enum Format {
    Csv,
    Ndjson,
}

/// Columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "client_order_id",
    "created_at",
    "updated_at",
    "source",
    "strategy",
    "pair",
    "side",
    "order_type",
    "volume",
    "price",
    "notional",
    "status",
    "txid",
    "error",
    "reasons",
];

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or
/// carriage return before one) is prefixed with `'`, so it is shown as text.
pub fn neutralise(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// One order as a CSV row (RFC 4180 quoting), formula-like cells neutralised.
pub fn csv_row(order: &OrderRecord) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let cells = vec![
        order.client_order_id.to_string(),
        order.created_at.to_rfc3339(),
        order.updated_at.to_rfc3339(),
        order.source.clone(),
        opt(order.strategy.clone()),
        order.pair.clone(),
        order.side.as_str().to_owned(),
        order.order_type.as_str().to_owned(),
        opt(order.volume.map(|v| v.to_string())),
        opt(order.price.map(|v| v.to_string())),
        opt(order.notional.map(|v| v.to_string())),
        order.status.as_str().to_owned(),
        opt(order.txid.clone()),
        opt(order.error.clone()),
        order.reasons.to_string(),
    ];
    cells.into_iter().map(neutralise).collect()
}

fn csv_line(fields: &[String]) -> Result<Bytes, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields)?;
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| csv::Error::from(e.into_error()))
}

fn render(format: Format, order: &OrderRecord) -> Result<Bytes, String> {
    match format {
        Format::Csv => csv_line(&csv_row(order)).map_err(|e| e.to_string()),
        Format::Ndjson => serde_json::to_vec(order)
            .map(|mut line| {
                line.push(b'\n');
                Bytes::from(line)
            })
            .map_err(|e| e.to_string()),
    }
}

#[utoipa::path(
    get,
    path = "/v1/orders/export",
    tag = "audit",
    params(
        ListQuery,
        ("format" = inline(Option<Format>), Query, description = "`csv` (the default) or `ndjson`"),
    ),
    security(("audit_token" = [])),
    responses(
        (status = 200, description = "Every matching order, streamed as CSV (with a header row) or NDJSON", content_type = "text/csv", body = String),
        (status = 400, description = "A bad filter or format", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
/// `GET /v1/orders/export`.
pub async fn export_orders(
    State(app): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let format = match query.format.as_deref() {
        Some("csv") | None => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(other) => {
            return Err(ApiError::field(
                "format",
                format!("`{other}` is not csv or ndjson"),
            ))
        }
    };
    if query.limit.is_some() || query.cursor.is_some() {
        return Err(ApiError::field(
            "limit",
            "the export has no paging; it streams every match",
        ));
    }
    let table = app.intake.pair_table().await;
    let filter = query.filter(&table)?;
    let reader = app.store.reader().clone();
    let header_line = match format {
        Format::Csv => csv_line(&CSV_COLUMNS.map(String::from)).ok(),
        Format::Ndjson => None,
    };
    let pages = stream::unfold(Some(filter), move |state| {
        let reader = reader.clone();
        async move {
            let filter: OrderFilter = state?;
            match orders::list(&reader, &filter, PAGE).await {
                Ok(page) => {
                    let next = (page.len() == PAGE as usize).then(|| OrderFilter {
                        before_id: page.last().map(|o| o.id),
                        ..filter
                    });
                    let chunks: Vec<Result<Bytes, std::io::Error>> = page
                        .iter()
                        .map(|order| render(format, order).map_err(std::io::Error::other))
                        .collect();
                    Some((stream::iter(chunks), next))
                }
                Err(err) => {
                    tracing::error!(error = %err, "export stopped by a database error");
                    Some((
                        stream::iter(vec![Err(std::io::Error::other("database error"))]),
                        None,
                    ))
                }
            }
        }
    })
    .flatten();
    let body = stream::iter(header_line.map(Ok)).chain(pages);
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Ndjson => "application/x-ndjson",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_like_cells_are_neutralised() {
        for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1"] {
            assert_eq!(neutralise(cell.into()), format!("'{cell}"));
        }
        assert_eq!(neutralise("XBTUSD".into()), "XBTUSD");
        assert_eq!(neutralise("0.5".into()), "0.5");
    }
}
