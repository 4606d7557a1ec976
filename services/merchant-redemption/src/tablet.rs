//! The counter-tablet web app (tablet/), embedded at compile time by build.rs and
//! served at /tablet/. Every file is `no-cache`: the app's service worker keeps the
//! offline copy, so the HTTP cache must never serve a stale shell next to it.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use platform::{ApiError, Context};

mod files {
    include!(concat!(env!("OUT_DIR"), "/tablet_files.rs"));
}

/// Same-origin only; the camera stream is a blob/mediastream, the QR fallback a canvas.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
                   style-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self'";

pub fn router() -> Router<Context> {
    Router::new()
        .route("/tablet", get(|| async { Redirect::permanent("/tablet/") }))
        .route("/tablet/", get(|| async { serve("index.html") }))
        .route("/tablet/files.json", get(list_files))
        .route(
            "/tablet/{*path}",
            get(|Path(path): Path<String>| async move { serve(&path) }),
        )
}

fn serve(path: &str) -> Response {
    let Some((_, kind, bytes)) = files::FILES.iter().find(|(p, _, _)| *p == path) else {
        return ApiError::not_found("not_found", "no such file in the tablet app").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        *bytes,
    )
        .into_response()
}

/// The embedded file names: the service worker caches exactly these.
pub fn files() -> impl Iterator<Item = &'static str> {
    files::FILES.iter().map(|(p, _, _)| *p)
}

async fn list_files() -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(files().collect::<Vec<_>>()),
    )
        .into_response()
}
