//! merchant-redemption: merchants, devices, promotions, scan → redeem → void/refund.

use axum::Router;
use platform::Context;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod routes;

/// Path prefix this service owns behind the reverse proxy.
pub const PREFIX: &str = "redemption";

#[derive(OpenApi)]
#[openapi(info(
    title = "towncard merchant-redemption",
    description = "Merchants, promotions, redemptions."
))]
struct ApiDoc;

pub fn api() -> (Router<Context>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router())
        .split_for_parts();
    (router, platform::docs::complete(api))
}

pub fn router() -> Router<Context> {
    let (router, api) = api();
    router.merge(platform::docs::router(PREFIX, api))
}
