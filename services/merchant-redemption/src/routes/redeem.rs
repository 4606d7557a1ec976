use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AmountText;
use crate::actor::Actor;
use crate::ratelimit::throttle_device;
use crate::service::batch;
use crate::service::card::CardRef;
use crate::service::receipt::Receipt;
use crate::service::redeem::{self, Request};
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
    let card_key = super::token_card(req.token.as_deref(), req.card_number.as_deref());
    let request = Request {
        key: &key,
        card,
        promotion: req.promotion_id,
        basket,
    };
    // A scanned card goes through this process's batches (several tablets'
    // redemptions in one transaction, their tablets' velocity in one call); a
    // typed number, or batching off, alone.
    let (status, receipt) = match request.card {
        CardRef::Token(token) if app.batcher.enabled() => {
            let job = batch::Job::new(actor, &key, token, req.promotion_id, basket, card_key);
            app.batcher.submit(&app, &ctx, job).await?
        }
        _ => {
            throttle_device(&ctx, actor.device, app.config.device_rate).await?;
            redeem::online(&app, &ctx, &actor, &request, &card_key, false).await?
        }
    };
    Ok((status, ApiJson(receipt)))
}
