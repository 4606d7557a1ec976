use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use kernel::{Money, Percent, Role};
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db::promotions::{self as q, NewPromotion, PromotionRow};
use crate::domain::rules::Rules;
use crate::events;
use crate::service::postings;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_promotions, create_promotion))
        .routes(routes!(fund_promotion))
        .routes(routes!(close_promotion))
}

#[derive(Serialize, ToSchema)]
pub struct Promotion {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// Percent of each discount the municipality pays.
    #[schema(value_type = String)]
    pub co_financing_percent: Decimal,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requires_approval: bool,
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    /// Set for a merchant's own offer.
    pub owner_merchant_id: Option<Uuid>,
    #[schema(value_type = Option<String>)]
    pub budget_total: Option<Decimal>,
    pub closed: bool,
}

impl From<PromotionRow> for Promotion {
    fn from(r: PromotionRow) -> Self {
        Promotion {
            id: r.id,
            name: r.name,
            description: r.description,
            co_financing_percent: r.co_financing_percent,
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            requires_approval: r.requires_approval,
            rules: r.rules,
            owner_merchant_id: r.owner_merchant_id,
            budget_total: r.budget_total,
            closed: r.closed_at.is_some(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewPromotionRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// 0 to 100; a merchant's own offer is always 0.
    #[schema(value_type = String, example = "50")]
    pub co_financing_percent: Percent,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(default = "yes")]
    pub requires_approval: bool,
    pub rules: Rules,
    /// The municipality's total co-financing budget, funded from its commitment.
    #[schema(value_type = Option<String>)]
    pub budget_total: Option<Money>,
    /// Set by a merchant owner to create the merchant's own offer.
    #[serde(default)]
    pub own_offer: bool,
}

fn yes() -> bool {
    true
}

/// Promotions of the caller's town (merchants see joint ones and their own offers).
#[utoipa::path(get, path = "/redemption/v1/promotions", tag = "promotions",
    responses((status = 200, body = Vec<Promotion>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_promotions(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<Promotion>>> {
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = q::all(&mut tx).await?;
    tx.commit().await?;
    let mine = user.merchant().map(|m| m.as_uuid());
    Ok(ApiJson(
        rows.into_iter()
            .filter(|r| {
                r.owner_merchant_id.is_none() || r.owner_merchant_id == mine || mine.is_none()
            })
            .map(Promotion::from)
            .collect(),
    ))
}

/// Create a joint promotion (town admin) or a merchant's own offer (owner, 0 %).
#[utoipa::path(post, path = "/redemption/v1/promotions", tag = "promotions", request_body = NewPromotionRequest,
    responses((status = 201, body = Promotion), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_promotion(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewPromotionRequest>,
) -> ApiResult<(StatusCode, ApiJson<Promotion>)> {
    let owner = if req.own_offer {
        user.require(&[Role::MerchantOwner])?;
        if req.co_financing_percent != Percent::ZERO || req.budget_total.is_some() {
            return Err(ApiError::unprocessable(
                "own_offer_unfunded",
                "an own offer has 0 % co-financing and no budget",
            ));
        }
        user.merchant().map(|m| m.as_uuid())
    } else {
        user.require(&[Role::TownAdmin])?;
        None
    };
    req.rules
        .validate()
        .map_err(|m| ApiError::unprocessable("invalid_rules", m))?;
    if req.name.trim().is_empty() || req.ends_on < req.starts_on {
        return Err(ApiError::unprocessable(
            "invalid_promotion",
            "a name and starts_on <= ends_on are required",
        ));
    }
    let town = user.town();
    let id = Uuid::now_v7();
    let mut tx = db::begin_town(&ctx.db, town).await?;
    q::insert(
        &mut tx,
        &NewPromotion {
            id,
            town: town.as_uuid(),
            name: req.name.trim(),
            description: &req.description,
            co_financing: req.co_financing_percent.value(),
            rules: serde_json::to_value(&req.rules).map_err(ApiError::internal)?,
            starts_on: req.starts_on,
            ends_on: req.ends_on,
            requires_approval: req.requires_approval,
            owner_merchant: owner,
            budget_total: req.budget_total.map(Money::amount),
        },
    )
    .await?;
    if let Some(b) = req.budget_total.filter(|b| b.is_positive()) {
        postings::fund_budget(&mut tx, town, id, b, &format!("promotion-budget:{id}")).await?;
    }
    let row = q::by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("promotion vanished"))?;
    tx.commit().await?;
    events::promotion_changed(&ctx.redis, town.as_uuid(), id).await;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct FundRequest {
    #[schema(value_type = String)]
    pub amount: Money,
}

/// Add to a promotion's co-financing budget (town admin; `Idempotency-Key` required).
#[utoipa::path(post, path = "/redemption/v1/promotions/{id}/budget", tag = "promotions",
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header)), request_body = FundRequest,
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn fund_promotion(
    State(ctx): State<Context>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<FundRequest>,
) -> ApiResult<StatusCode> {
    user.require(&[Role::TownAdmin])?;
    let key = super::idempotency_key(&headers)?;
    if !req.amount.is_positive() {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            "the amount must be positive",
        ));
    }
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let p = q::by_id(&mut tx, id).await?.ok_or_else(not_found)?;
    if p.owner_merchant_id.is_some() {
        return Err(ApiError::unprocessable(
            "own_offer_unfunded",
            "an own offer has no co-financing budget",
        ));
    }
    postings::fund_budget(
        &mut tx,
        user.town(),
        id,
        req.amount,
        &format!("promotion-budget:{id}:{key}"),
    )
    .await?;
    sqlx::query(
        "UPDATE promotions SET budget_total = coalesce(budget_total, 0) + $2 WHERE id = $1",
    )
    .bind(id)
    .bind(req.amount.amount())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn not_found() -> ApiError {
    ApiError::not_found("promotion_not_found", "no such promotion")
}

/// Close a promotion: no more redemptions (town admin, or the owner of an own offer).
#[utoipa::path(post, path = "/redemption/v1/promotions/{id}/close", tag = "promotions",
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn close_promotion(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    user.require(&[Role::TownAdmin, Role::MerchantOwner])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let p = q::by_id(&mut tx, id).await?.ok_or_else(not_found)?;
    if user.merchant().is_some() && p.owner_merchant_id != user.merchant().map(|m| m.as_uuid()) {
        return Err(ApiError::forbidden(
            "forbidden_merchant",
            "this belongs to another merchant",
        ));
    }
    sqlx::query("UPDATE promotions SET closed_at = coalesce(closed_at, now()) WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    events::promotion_changed(&ctx.redis, user.town().as_uuid(), id).await;
    Ok(StatusCode::NO_CONTENT)
}
