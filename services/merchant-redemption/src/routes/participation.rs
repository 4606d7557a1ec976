//! A merchant's part in a joint promotion: joining, leaving, the town's approval.

use axum::Extension;
use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::promotions::not_found;
use crate::actor::own_merchant;
use crate::db::promotions as q;
use crate::events;
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(join_promotion))
        .routes(routes!(leave_promotion))
        .routes(routes!(approve_merchant))
}

#[derive(Serialize, ToSchema)]
pub struct Participation {
    pub promotion_id: Uuid,
    pub merchant_id: Uuid,
    /// pending (awaiting the town's approval), approved or left.
    pub status: String,
}

async fn participate(
    ctx: &Context,
    app: &App,
    user: &AuthUser,
    promo: Uuid,
    merchant: Uuid,
    action: &str,
) -> ApiResult<ApiJson<Participation>> {
    let town = user.town();
    let mut tx = db::begin_town(&ctx.db, town).await?;
    let p = q::by_id(&mut tx, promo).await?.ok_or_else(not_found)?;
    if p.owner_merchant_id.is_some() || p.closed_at.is_some() {
        return Err(ApiError::conflict(
            "promotion_not_joinable",
            "this promotion cannot be joined",
        ));
    }
    let current = q::participation(&mut tx, promo, merchant).await?;
    let status = match action {
        "join" if current.as_deref() == Some("approved") => "approved",
        "join" if p.requires_approval => "pending",
        "join" | "approve" => "approved",
        _ => "left",
    };
    if action == "approve" && current.as_deref() != Some("pending") {
        return Err(ApiError::conflict(
            "not_pending",
            "this merchant has not asked to join",
        ));
    }
    q::set_participation(&mut tx, town.as_uuid(), promo, merchant, status).await?;
    tx.commit().await?;
    app.cache.forget_offers(town.as_uuid());
    events::promotion_changed(&ctx.redis, town.as_uuid(), promo).await;
    Ok(ApiJson(Participation {
        promotion_id: promo,
        merchant_id: merchant,
        status: status.into(),
    }))
}

/// Join a joint promotion (merchant owner); pending until approved if the town requires it.
#[utoipa::path(post, path = "/redemption/v1/promotions/{id}/join", tag = "promotions",
    params(("id" = Uuid, Path)), responses((status = 200, body = Participation), (status = 404, description = "promotion_not_found", body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn join_promotion(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Participation>> {
    let m = own_merchant(&user)?.as_uuid();
    participate(&ctx, &app, &user, id, m, "join").await
}

/// Leave a joint promotion (merchant owner).
#[utoipa::path(post, path = "/redemption/v1/promotions/{id}/leave", tag = "promotions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Participation), (status = 404, description = "promotion_not_found", body = ErrorBody),
              (status = 409, description = "promotion_not_joinable", body = ErrorBody)),
    security(("bearer" = [])))]
async fn leave_promotion(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Participation>> {
    let m = own_merchant(&user)?.as_uuid();
    participate(&ctx, &app, &user, id, m, "leave").await
}

/// Approve a merchant's request to join (town admin).
#[utoipa::path(post, path = "/redemption/v1/promotions/{id}/merchants/{merchant_id}/approve", tag = "promotions",
    params(("id" = Uuid, Path), ("merchant_id" = Uuid, Path)),
    responses((status = 200, body = Participation),
              (status = 404, description = "promotion_not_found", body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn approve_merchant(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiPath((id, merchant)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<ApiJson<Participation>> {
    user.require(&[Role::TownAdmin])?;
    participate(&ctx, &app, &user, id, merchant, "approve").await
}
