use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AmountText;
use crate::actor::Actor;
use crate::service::receipt::{self, Receipt};
use crate::service::reverse::{self, Kind, Request};
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(void_redemption))
        .routes(routes!(refund_redemption))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct VoidRequest {
    #[serde(default)]
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefundRequest {
    /// The part of the basket refunded to the customer.
    #[schema(value_type = String, example = "10.00")]
    pub amount: AmountText,
    #[serde(default)]
    pub reason: String,
}

async fn run(
    ctx: &Context,
    app: &App,
    user: &AuthUser,
    headers: &HeaderMap,
    id: Uuid,
    kind: Kind,
    reason: &str,
) -> ApiResult<ApiJson<Receipt>> {
    let actor = Actor::merchant(user)?;
    let key = super::idempotency_key(headers)?;
    let mut tx = db::begin_town(&ctx.db, actor.town).await?;
    let req = Request {
        id,
        key: &key,
        kind,
        reason,
        void_window_secs: app.config.void_window_secs,
    };
    reverse::reverse(&mut tx, &actor, req, chrono::Utc::now()).await?;
    let r = receipt::load(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(ApiJson(r))
}

/// Void a redemption made by mistake (within the void window): the whole ledger
/// transaction is reversed and the card gets its use back.
#[utoipa::path(post, path = "/redemption/v1/redemptions/{id}/void", tag = "redemption",
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header)), request_body = VoidRequest,
    responses((status = 200, body = Receipt),
              (status = 409, description = "void_window_passed, already_reversed", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn void_redemption(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<VoidRequest>,
) -> ApiResult<ApiJson<Receipt>> {
    let reason = body.reason;
    run(&ctx, &app, &user, &headers, id, Kind::Void, &reason).await
}

/// Refund part of the basket: each share of the discount is reversed in proportion.
#[utoipa::path(post, path = "/redemption/v1/redemptions/{id}/refund", tag = "redemption",
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header)), request_body = RefundRequest,
    responses((status = 200, body = Receipt),
              (status = 404, description = "redemption_not_found", body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, description = "refund_too_large, invalid_amount", body = ErrorBody)),
    security(("bearer" = [])))]
async fn refund_redemption(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RefundRequest>,
) -> ApiResult<ApiJson<Receipt>> {
    let amount = req.amount.positive()?;
    run(
        &ctx,
        &app,
        &user,
        &headers,
        id,
        Kind::Refund(amount),
        &req.reason,
    )
    .await
}
