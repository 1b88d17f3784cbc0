//! The API's OpenAPI document, generated from the handlers and types themselves, served
//! on `GET /openapi.json`.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, export, notifications, ops, orders, signals};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tradehook",
        description = "Trading signals in, Kraken orders out: authenticated, risk-checked, recorded before sending, exactly once."
    ),
    paths(
        signals::post_signal,
        orders::list_orders,
        orders::get_order,
        export::export_orders,
        admin::get_status,
        admin::halt,
        admin::resume,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        notifications::list_notifications,
        notifications::redeliver,
    ),
    modifiers(&BearerTokens)
)]
pub struct ApiDoc;

/// Declares the two bearer tokens.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["audit_token", "admin_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
