//! The three services' routers in one process, on one port (development, demo).

use axum::Router;
use platform::Context;

pub fn router(ctx: Context) -> Router {
    let routes = card_issuing::router()
        .merge(merchant_redemption::router())
        .merge(settlement::router());
    platform::serve::app(routes, ctx)
}
