//! card-issuing: card products, cards, their QR tokens and lifecycle, the visitor's page.

use axum::Router;
use platform::Context;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod cli;
pub mod db;
pub mod demo;
pub mod domain;
pub mod routes;
pub mod web;

/// Path prefix this service owns behind the reverse proxy (plus `/c/` for card pages).
pub const PREFIX: &str = "issuing";

#[derive(OpenApi)]
#[openapi(info(
    title = "towncard card-issuing",
    description = "Card products, cards, signed QR tokens and images, print batches, the card \
                   lifecycle, town QR keys and the visitor's card page."
))]
struct ApiDoc;

/// The service's routes and its OpenAPI document.
pub fn api() -> (Router<Context>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router())
        .merge(web::router())
        .split_for_parts();
    (router, platform::docs::complete(api))
}

/// Routes plus the docs page, ready for `platform::serve::app`.
pub fn router() -> Router<Context> {
    let (router, api) = api();
    router.merge(platform::docs::router(PREFIX, api))
}
