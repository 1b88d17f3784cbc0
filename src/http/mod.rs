//! The HTTP surface: one file per surface, the router and the shared state here.

pub mod admin;
pub mod auth;
pub mod cancel;
pub mod error;
pub mod export;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod positions;
pub mod rate_limit;
pub mod signals;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::executor::Executor;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub intake: Intake,
    pub executor: Executor,
    pub clock: SharedClock,
    pub limiter: rate_limit::IngressLimiter,
    pub metrics: Metrics,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let audit = Router::new()
        .route("/v1/orders", get(orders::list_orders))
        .route("/v1/orders/export", get(export::export_orders))
        .route("/v1/orders/{client_order_id}", get(orders::get_order))
        .route("/v1/notifications", get(notifications::list_notifications))
        .route("/v1/positions", get(positions::get_positions))
        .route("/v1/stats", get(positions::get_stats))
        .route_layer(from_fn_with_state(state.clone(), auth::require_audit));
    let admin = Router::new()
        .route("/v1/admin/status", get(admin::get_status))
        .route("/v1/admin/halt", post(admin::halt))
        .route("/v1/admin/resume", post(admin::resume))
        .route(
            "/v1/notifications/{id}/redeliver",
            post(notifications::redeliver),
        )
        .route(
            "/v1/orders/{client_order_id}/cancel",
            post(cancel::cancel_order),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin));
    let metrics = Router::new().route("/metrics", get(ops::metrics));
    let metrics = if state.config.server.metrics_public {
        metrics
    } else {
        metrics.route_layer(from_fn_with_state(state.clone(), auth::require_audit))
    };
    Router::new()
        .route(
            "/v1/signals/{source}",
            post(signals::post_signal).route_layer(from_fn_with_state(
                state.clone(),
                crate::tls::client_cert::require_for_source,
            )),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(metrics)
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(audit)
        .merge(admin)
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
