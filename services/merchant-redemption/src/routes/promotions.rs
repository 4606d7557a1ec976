use axum::extract::State;
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(list_promotions))
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Promotion {
    pub id: uuid::Uuid,
    pub name: String,
    /// Percent of each discount the municipality pays.
    #[schema(value_type = String)]
    pub co_financing_percent: rust_decimal::Decimal,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: chrono::NaiveDate,
}

/// Promotions of the caller's town.
#[utoipa::path(get, path = "/redemption/v1/promotions", tag = "promotions",
    responses((status = 200, body = Vec<Promotion>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_promotions(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<Promotion>>> {
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = sqlx::query_as::<_, Promotion>(
        "SELECT id, name, co_financing_percent, starts_on, ends_on FROM promotions ORDER BY starts_on, name",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}
