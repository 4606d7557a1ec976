use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AmountText;
use crate::actor::Actor;
use crate::service::card::CardRef;
use crate::service::receipt::{self, Receipt};
use crate::service::redeem::{self, Claimed, Request};
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(redeem_offer))
}

#[derive(Deserialize, ToSchema)]
pub struct RedeemRequest {
    pub token: Option<String>,
    pub card_number: Option<String>,
    pub promotion_id: uuid::Uuid,
    #[schema(value_type = String, example = "24.90")]
    pub basket: AmountText,
}

/// Redeem an offer for a card. Requires `Idempotency-Key`: a retry with the same key
/// and body returns the first receipt (`replayed: true`); another body is 409.
#[utoipa::path(post, path = "/redemption/v1/redemptions", tag = "redemption", request_body = RedeemRequest,
    params(("Idempotency-Key" = String, Header, description = "one per redemption attempt")),
    responses((status = 201, body = Receipt), (status = 200, description = "replayed", body = Receipt),
              (status = 409, description = "a limit or budget refused it, or idempotency_conflict", body = ErrorBody),
              (status = 422, description = "invalid_amount, token refused", body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
async fn redeem_offer(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RedeemRequest>,
) -> ApiResult<(StatusCode, ApiJson<Receipt>)> {
    let actor = Actor::merchant(&user)?;
    let key = super::idempotency_key(&headers)?;
    let basket = req.basket.positive()?;
    let card = CardRef::from_request(req.token.as_deref(), req.card_number.as_deref())?;
    if let Some(device) = actor.device {
        crate::ratelimit::throttle(&ctx, &format!("rl:device:{device}"), app.config.device_rate)
            .await?;
    }
    let card_key = super::token_card(req.token.as_deref(), req.card_number.as_deref());
    let request = Request {
        key: &key,
        card,
        promotion: req.promotion_id,
        basket,
    };
    let _gate = app.budget_gate(req.promotion_id).await;
    let mut tx = db::begin_town(&ctx.db, actor.town).await?;
    // A replay must not count against the card's velocity, so look first.
    let claimed = redeem::claim(&mut tx, &actor, &key, request.hash(&actor)).await?;
    let (status, receipt) = match claimed {
        Claimed::Replay(id) => (StatusCode::OK, receipt::load(&mut tx, id, true).await?),
        Claimed::Fresh(fresh) => {
            crate::ratelimit::throttle(
                &ctx,
                &format!("rl:card:{}:{card_key}", actor.town),
                app.config.card_rate,
            )
            .await?;
            let now = chrono::Utc::now();
            let (row, limits) =
                redeem::apply(&app, &ctx, &mut tx, &actor, &request, fresh, now).await?;
            // Built from what the redeem wrote: nothing to read back.
            (StatusCode::CREATED, receipt::from_row(row, limits, false)?)
        }
    };
    tx.commit().await?;
    Ok((status, ApiJson(receipt)))
}
