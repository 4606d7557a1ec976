//! The visitor's card page, `/c/{code}`: server-rendered HTML for phones.

use platform::Context;
use utoipa_axum::router::OpenApiRouter;

mod i18n;
mod page;

pub fn router() -> OpenApiRouter<Context> {
    page::router()
}
