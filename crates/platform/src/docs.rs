//! Each service serves its OpenAPI document and an offline docs page (vendored Swagger UI).

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

use crate::serve::Context;

/// Adds the shared parts (login, bearer auth) to a service's document.
pub fn complete(mut api: OpenApi) -> OpenApi {
    let (_, auth) = crate::login::router().split_for_parts();
    api.merge(auth);
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    api
}

/// `/{prefix}/openapi.json` and the page `/{prefix}/docs`.
pub fn router(prefix: &str, api: OpenApi) -> Router<Context> {
    Router::new().merge(
        SwaggerUi::new(format!("/{prefix}/docs")).url(format!("/{prefix}/openapi.json"), api),
    )
}
