use axum::extract::State;
use chrono::Utc;
use kernel::Role;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Who;
use crate::domain::events;
use crate::domain::lifecycle::{Action, effective_status};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(use_benefit))
}

#[derive(Serialize, ToSchema)]
pub struct BenefitUse {
    pub benefit_id: uuid::Uuid,
    /// This use's number (1 for the first).
    pub use_no: i32,
    pub uses_left: i32,
}

/// Uses an included benefit (e.g. the free museum entry) once. The first use of a
/// card that was never used starts its validity.
#[utoipa::path(post, path = "/issuing/v1/cards/{number}/benefits/{benefit_id}/use", tag = "cards",
    params(("number" = String, Path, description = "12 digits"), ("benefit_id" = uuid::Uuid, Path)),
    responses((status = 200, body = BenefitUse),
              (status = 404, description = "card_not_found, benefit_not_found", body = ErrorBody),
              (status = 409, description = "benefit_used_up, card_suspended, card_expired", body = ErrorBody)),
    security(("bearer" = [])))]
async fn use_benefit(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((number, benefit_id)): ApiPath<(String, uuid::Uuid)>,
) -> ApiResult<ApiJson<BenefitUse>> {
    user.require(&[
        Role::MerchantStaff,
        Role::MerchantOwner,
        Role::TicOperator,
        Role::TownAdmin,
    ])?;
    let who = Who::of(&user);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let card = super::card(&mut tx, &number, true).await?;
    let product = crate::db::products::by_id(&mut tx, card.product_id)
        .await?
        .ok_or_else(|| ApiError::internal("card without product"))?;
    let benefits = crate::db::benefits::for_products(&mut tx, &[product.id]).await?;
    let benefit = benefits
        .iter()
        .find(|b| b.id == benefit_id)
        .ok_or_else(|| ApiError::not_found("benefit_not_found", "this card has no such benefit"))?;
    if let Some(m) = user.merchant()
        && benefit.merchant_id.is_some_and(|b| b != m.as_uuid())
    {
        return Err(ApiError::forbidden(
            "forbidden_merchant",
            "this benefit is at another attraction",
        ));
    }
    let mut changes = Vec::new();
    match effective_status(&card, Utc::now()) {
        "issued" => {
            let (_, c) = super::lifecycle::apply_and_record(
                &mut tx,
                &town,
                &product,
                &card,
                Action::Activate,
                &who,
                "first use",
            )
            .await?;
            changes.push(c);
        }
        "active" => {}
        "suspended" => {
            return Err(ApiError::conflict(
                "card_suspended",
                "the card is suspended",
            ));
        }
        "replaced" => return Err(ApiError::conflict("card_replaced", "the card was replaced")),
        _ => return Err(ApiError::conflict("card_expired", "the card has expired")),
    }
    let used = crate::db::benefits::uses_for_card(&mut tx, card.id)
        .await?
        .into_iter()
        .find(|(b, _)| *b == benefit_id)
        .map(|(_, n)| n as i32)
        .unwrap_or(0);
    if used >= benefit.uses {
        return Err(ApiError::conflict(
            "benefit_used_up",
            "this benefit has been used",
        ));
    }
    crate::db::benefits::record_use(
        &mut tx,
        town.town(),
        card.id,
        benefit_id,
        used + 1,
        user.merchant().map(|m| m.as_uuid()),
        &who.id,
    )
    .await
    .map_err(|e| match ApiError::from(e) {
        e if e.code == "already_exists" => {
            ApiError::conflict("benefit_used_up", "this benefit has been used")
        }
        e => e,
    })?;
    tx.commit().await?;
    events::publish(&ctx.redis, &changes).await;
    Ok(ApiJson(BenefitUse {
        benefit_id,
        use_no: used + 1,
        uses_left: benefit.uses - used - 1,
    }))
}
