use platform::Context;
use utoipa_axum::router::OpenApiRouter;

mod ledger;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().merge(ledger::router())
}
