//! Statements: the town summary (per promotion and merchant) and one merchant's.

use axum::extract::State;
use kernel::{MerchantId, Role};
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::month;
use crate::domain::statement::{self, MerchantStatement, Summary};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(get_summary))
        .routes(routes!(get_statement))
}

/// The town summary of a period: totals, promotions (with budget burn), merchants.
#[utoipa::path(get, path = "/settlement/v1/periods/{month}/summary", tag = "statements",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = Summary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_summary(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(m): ApiPath<String>,
) -> ApiResult<ApiJson<Summary>> {
    user.require(&[Role::TownAdmin, Role::Auditor])?;
    let month = month::parse(&m)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let period = super::period(&mut tx, month).await?;
    let s = statement::summary(&mut tx, user.town(), &period).await?;
    tx.commit().await?;
    Ok(ApiJson(s))
}

/// One merchant's statement of a period (a merchant owner sees only its own).
#[utoipa::path(get, path = "/settlement/v1/periods/{month}/merchants/{merchant}/statement", tag = "statements",
    params(("month" = String, Path, description = "YYYY-MM"), ("merchant" = Uuid, Path)),
    responses((status = 200, body = MerchantStatement), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_statement(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, merchant)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<MerchantStatement>> {
    user.require(&[Role::TownAdmin, Role::Auditor, Role::MerchantOwner])?
        .require_merchant(MerchantId::from_uuid(merchant))?;
    let month = month::parse(&m)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let period = super::period(&mut tx, month).await?;
    let s = statement::summary(&mut tx, user.town(), &period).await?;
    tx.commit().await?;
    s.merchants
        .into_iter()
        .find(|x| x.merchant_id == merchant)
        .map(ApiJson)
        .ok_or_else(|| {
            ApiError::not_found(
                "statement_not_found",
                "no redemptions of this merchant in the period",
            )
        })
}
