use platform::Context;
use utoipa_axum::router::OpenApiRouter;

mod cards;
mod products;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .merge(products::router())
        .merge(cards::router())
}
