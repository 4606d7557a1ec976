//! settlement: periods, statements, reconciliation, reports, payouts, the console.

use axum::Router;
use platform::Context;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod console;
pub mod db;
pub mod domain;
pub mod reports;
pub mod routes;

/// Path prefix this service owns behind the reverse proxy.
pub const PREFIX: &str = "settlement";

#[derive(OpenApi)]
#[openapi(info(
    title = "towncard settlement",
    description = "Periods, statements, reconciliation, reports, the payout file, the municipality console; ledger views and audit."
))]
struct ApiDoc;

pub fn api() -> (Router<Context>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router())
        .merge(console::router())
        .split_for_parts();
    (router, platform::docs::complete(api))
}

pub fn router() -> Router<Context> {
    let (router, api) = api();
    router.merge(platform::docs::router(PREFIX, api))
}
