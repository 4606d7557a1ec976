//! Each service serves its OpenAPI document and an offline docs page (vendored Swagger UI).

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa_swagger_ui::SwaggerUi;

use crate::serve::Context;

/// The answers every operation may give whatever its own: the extractors' and the
/// platform's (`error.rs`), documented once here rather than on each route.
fn add_shared_errors(op: &mut Operation) {
    let mut shared: Vec<(&str, &str)> = vec![
        (
            "400",
            "malformed_json, invalid_path, invalid_query, invalid_text, or the operation's own",
        ),
        ("503", "timeout, database_busy, retry"),
        (
            "500",
            "internal (the log has the details under the request id)",
        ),
    ];
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        shared.extend([
            ("401", "missing_token, invalid_token, token_expired"),
            (
                "403",
                "forbidden_role, forbidden_merchant, or the operation's own",
            ),
        ]);
    }
    if op.request_body.is_some() {
        shared.extend([
            ("413", "payload_too_large"),
            ("415", "unsupported_media_type"),
            ("422", "invalid_body, or the operation's own"),
        ]);
    }
    for (status, codes) in shared {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(codes)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
}

/// Adds the shared parts (login, bearer auth, the errors any operation may answer)
/// to a service's document.
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
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_shared_errors(op);
        }
    }
    api
}

/// `/{prefix}/openapi.json` and the page `/{prefix}/docs`.
pub fn router(prefix: &str, api: OpenApi) -> Router<Context> {
    Router::new().merge(
        SwaggerUi::new(format!("/{prefix}/docs")).url(format!("/{prefix}/openapi.json"), api),
    )
}
