//! The fake Kraken's endpoints: authentication, nonce check, and each method.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::orders::{add_order, cancel, list, query_orders};
use super::{ConnectionKill, Shared};
use tradehook::exchange::kraken::sign;

pub(super) type Form = Vec<(String, String)>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/0/public/{method}", get(public))
        .route("/0/private/{method}", post(private))
        .route("/elsewhere/{*rest}", any(elsewhere))
        .with_state(shared)
}

/// Where [`super::Behaviour::Redirect`] points: a client that followed would see its
/// order "placed" here, and the fake counts the visit as method `redirected`.
async fn elsewhere(AxState(shared): AxState<Arc<Shared>>) -> Response {
    *shared.state().calls.entry("redirected".into()).or_default() += 1;
    ok(json!({"txid": ["OREDIR-ECTED0-FAKE00"]}))
}

pub(super) fn redirect(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let location = "/elsewhere/0/private/AddOrder";
    (status, [("location", location)], "").into_response()
}

pub(super) fn ok(result: Value) -> Response {
    Json(json!({"error": [], "result": result})).into_response()
}

pub(super) fn refuse(error: &str) -> Response {
    Json(json!({"error": [error]})).into_response()
}

pub(super) fn html(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let page = format!("<html><body><h1>{status}</h1>cloudflare</body></html>");
    (status, [("content-type", "text/html")], page).into_response()
}

pub(super) fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn public(
    AxState(shared): AxState<Arc<Shared>>,
    Path(method): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let mut state = shared.state();
    *state.calls.entry(method.clone()).or_default() += 1;
    match method.as_str() {
        "Time" if state.time_fails => refuse("EService:Unavailable"),
        "Time" => {
            // Whole seconds, like Kraken's.
            let now = state.now();
            ok(json!({"unixtime": now.timestamp(), "rfc1123": now.to_rfc2822()}))
        }
        "SystemStatus" => ok(json!({"status": "online", "timestamp": Utc::now().to_rfc3339()})),
        "AssetPairs" => {
            let mut all: Value =
                serde_json::from_str(include_str!("../../../src/pairs_snapshot.json")).unwrap();
            if let Value::Object(all) = &mut all {
                all.extend(state.extra_pairs.clone());
            }
            ok(all)
        }
        "Ticker" => {
            let Some(pair) = field(&query, "pair")
                .and_then(|p| state.pairs.get(p))
                .cloned()
            else {
                return refuse("EQuery:Unknown asset pair");
            };
            let Some(price) = state.prices.get(&pair.id) else {
                return refuse("EGeneral:Internal error:no fake price");
            };
            let price = price.to_string();
            ok(
                json!({ pair.id: {"a": [price, "1", "1.0"], "b": [price, "1", "1.0"],
                                 "c": [price, "0.1"], "v": ["1", "1"]} }),
            )
        }
        _ => refuse("EGeneral:Unknown method"),
    }
}

/// Checks key, signature and nonce the way Kraken does, then dispatches.
async fn private(
    AxState(shared): AxState<Arc<Shared>>,
    Path(method): Path<String>,
    Extension(kill): Extension<ConnectionKill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let body = String::from_utf8_lossy(&body).into_owned();
    let form: Form = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    {
        let mut state = shared.state();
        *state.calls.entry(method.clone()).or_default() += 1;
        if let Some(cl_ord_id) = field(&form, "cl_ord_id").filter(|_| method == "AddOrder") {
            state
                .arrivals
                .entry(cl_ord_id.to_owned())
                .or_insert(arrived);
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if header("API-Key") != Some(shared.key.as_str()) {
            return refuse("EAPI:Invalid key");
        }
        let Some(nonce) = field(&form, "nonce").and_then(|n| n.parse::<u64>().ok()) else {
            return refuse("EAPI:Invalid nonce");
        };
        let path = format!("/0/private/{method}");
        let signature = header("API-Sign").unwrap_or("");
        if !sign::verify(&shared.secret, &path, nonce, &body, signature) {
            return refuse("EAPI:Invalid signature");
        }
        if !state.accept_nonce(nonce) {
            return refuse("EAPI:Invalid nonce");
        }
    }
    match method.as_str() {
        "AddOrder" => add_order(&shared, &form, kill).await,
        "OpenOrders" => list(&shared, &form, true),
        "ClosedOrders" => list(&shared, &form, false),
        "QueryOrders" => query_orders(&shared, &form),
        "CancelOrder" => cancel(&shared, &form),
        "TradesHistory" => super::ws_book::trades_history(&shared, &form),
        // What the WebSocket fake (tests/support/fake_kraken_ws.rs) accepts.
        "GetWebSocketsToken" => ok(serde_json::json!({"token": super::WS_TOKEN, "expires": 900})),
        "Balance" => {
            let balances: Map<String, Value> = shared
                .state()
                .balances
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect();
            ok(Value::Object(balances))
        }
        "BalanceEx" => balance_ex(&shared),
        _ => refuse("EGeneral:Unknown method"),
    }
}

/// `BalanceEx` as Kraken documents it: per asset, `balance` and `hold_trade` as strings.
fn balance_ex(shared: &Shared) -> Response {
    let state = shared.state();
    let entries: Map<String, Value> = state
        .balances
        .iter()
        .map(|(asset, balance)| {
            let hold = state.holds.get(asset).copied().unwrap_or_default();
            let entry = json!({"balance": balance.to_string(), "hold_trade": hold.to_string()});
            (asset.clone(), entry)
        })
        .collect();
    ok(Value::Object(entries))
}
