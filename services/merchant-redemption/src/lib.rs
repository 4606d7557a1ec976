//! merchant-redemption: merchants, devices, promotions, scan → redeem → void/refund.

use axum::{Extension, Router};
use platform::Context;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod actor;
pub mod cache;
pub mod db;
pub mod demo;
pub mod domain;
pub mod events;
pub mod ratelimit;
pub mod routes;
pub mod service;
pub mod state;
pub mod tablet;

pub use state::{App, Config, Shared};

/// Path prefix this service owns behind the reverse proxy.
pub const PREFIX: &str = "redemption";

#[derive(OpenApi)]
#[openapi(info(
    title = "towncard merchant-redemption",
    description = "Merchants, tablets, promotions; scan → redeem → void/refund."
))]
struct ApiDoc;

pub fn api() -> (Router<Context>, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router())
        .split_for_parts();
    (router, platform::docs::complete(api))
}

/// The service's router with settings from the environment.
pub fn router() -> Router<Context> {
    router_with(Config::from_env())
}

/// The router with explicit settings (tests shorten the void window, etc.).
pub fn router_with(config: Config) -> Router<Context> {
    let app = Shared::new(config);
    let (router, api) = api();
    router
        .layer(Extension(app))
        .merge(platform::docs::router(PREFIX, api))
        .merge(tablet::router())
}
