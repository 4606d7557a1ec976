use platform::Context;
use utoipa_axum::router::OpenApiRouter;

mod merchants;
mod promotions;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .merge(merchants::router())
        .merge(promotions::router())
}
