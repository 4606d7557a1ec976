use axum::extract::State;
use kernel::{CardNumber, Role};
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(get_card))
}

#[derive(Serialize, ToSchema)]
pub struct CardSummary {
    pub id: uuid::Uuid,
    /// As printed: three groups of four digits.
    pub number: String,
    pub product_code: String,
    pub status: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Looks a card up by its printed number; a mistyped number fails its check digit.
#[utoipa::path(get, path = "/issuing/v1/cards/{number}", tag = "cards",
    params(("number" = String, Path, description = "12 digits, spaces allowed")),
    responses((status = 200, body = CardSummary),
              (status = 400, description = "card_number_invalid", body = ErrorBody),
              (status = 404, description = "card_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_card(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<CardSummary>> {
    user.require(&[Role::TicOperator, Role::TownAdmin, Role::Auditor])?;
    let number = CardNumber::parse(&number)
        .map_err(|e| ApiError::bad_request("card_number_invalid", e.to_string()))?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let row: Option<(
        uuid::Uuid,
        String,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = sqlx::query_as(
        "SELECT c.id, p.code, c.status, c.expires_at
         FROM cards c JOIN card_products p ON p.id = c.product_id
         WHERE c.number = $1",
    )
    .bind(number.digits())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let (id, product_code, status, expires_at) =
        row.ok_or_else(|| ApiError::not_found("card_not_found", "no such card in this town"))?;
    Ok(ApiJson(CardSummary {
        id,
        number: number.to_string(),
        product_code,
        status,
        expires_at,
    }))
}
