use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(list_products))
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct CardProduct {
    pub id: uuid::Uuid,
    pub code: String,
    /// Names by language: `sl`, `en`, `it`.
    pub names: serde_json::Value,
    pub kind: String,
    pub validity_hours: Option<i32>,
    #[schema(value_type = String)]
    pub price: rust_decimal::Decimal,
}

/// Card products of the caller's town.
#[utoipa::path(get, path = "/issuing/v1/card-products", tag = "card products",
    responses((status = 200, body = Vec<CardProduct>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_products(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<CardProduct>>> {
    user.require(&[Role::TicOperator, Role::TownAdmin, Role::Auditor])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = sqlx::query_as::<_, CardProduct>(
        "SELECT id, code, names, kind, validity_hours, price FROM card_products ORDER BY code",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}
