//! `/healthz` (the process is up), `/readyz` (it can serve: Postgres and Redis
//! answer) and `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::serve::Context;

pub fn router() -> Router<Context> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn readyz(State(ctx): State<Context>) -> impl IntoResponse {
    let limit = Duration::from_secs(2);
    let pg = tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&ctx.db))
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let mut redis = ctx.redis.clone();
    let rd = tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis))
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let status = if pg && rd {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    (
        status,
        axum::Json(json!({ "postgres": word(pg), "redis": word(rd) })),
    )
}

async fn metrics(State(ctx): State<Context>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        ctx.metrics.render(),
    )
}
