use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(list_merchants))
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Merchant {
    pub id: uuid::Uuid,
    pub name: String,
    pub category: String,
}

/// Merchants of the caller's town; a merchant's own staff see only their merchant.
#[utoipa::path(get, path = "/redemption/v1/merchants", tag = "merchants",
    responses((status = 200, body = Vec<Merchant>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_merchants(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<Merchant>>> {
    user.require(&[
        Role::TownAdmin,
        Role::Auditor,
        Role::TicOperator,
        Role::MerchantOwner,
        Role::MerchantStaff,
    ])?;
    let only = user.merchant().map(|m| m.as_uuid());
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = sqlx::query_as::<_, Merchant>(
        "SELECT id, name, category FROM merchants
         WHERE $1::uuid IS NULL OR id = $1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}
