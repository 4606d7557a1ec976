//! The municipality console: a page and a script served by this service. The script
//! logs in (POST /auth/login), keeps the token in the tab's sessionStorage and
//! calls the settlement API; auditors get every view without the actions.

pub mod i18n;

use axum::http::header;
use axum::response::IntoResponse;
use platform::Context;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(console_page))
        .routes(routes!(console_script))
        .routes(routes!(console_style))
        .routes(routes!(console_words))
}

/// The console page.
#[utoipa::path(get, path = "/settlement/console", tag = "console",
    responses((status = 200, content_type = "text/html", description = "the console")))]
async fn console_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'",
            ),
        ],
        include_str!("assets/index.html"),
    )
}

/// The console's script.
#[utoipa::path(get, path = "/settlement/console/app.js", tag = "console",
    responses((status = 200, content_type = "text/javascript", description = "the script")))]
async fn console_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}

/// The console's style sheet.
#[utoipa::path(get, path = "/settlement/console/app.css", tag = "console",
    responses((status = 200, content_type = "text/css", description = "the style sheet")))]
async fn console_style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

/// The console's words in sl, en and it.
#[utoipa::path(get, path = "/settlement/console/i18n.json", tag = "console",
    responses((status = 200, description = "{sl: {...}, en: {...}, it: {...}}")))]
async fn console_words() -> impl IntoResponse {
    axum::Json(i18n::as_json())
}
