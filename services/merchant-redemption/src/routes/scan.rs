use axum::Extension;
use axum::extract::State;
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
use crate::service::scan::{self, ScanResult};
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(scan_card))
}

#[derive(Deserialize, ToSchema)]
pub struct ScanRequest {
    /// The QR text (`TC1:...`).
    pub token: Option<String>,
    /// Or the printed card number, typed in.
    pub card_number: Option<String>,
    /// The basket, to compute each offer's discount (e.g. "24.90").
    #[schema(value_type = Option<String>)]
    pub basket: Option<AmountText>,
}

/// Verify a card and list what this shop can give it now.
#[utoipa::path(post, path = "/redemption/v1/scan", tag = "redemption", request_body = ScanRequest,
    responses((status = 200, body = ScanResult),
              (status = 422, description = "token or card refused (e.g. card_replaced, card_expired), invalid_amount", body = ErrorBody),
              (status = 429, description = "rate_limited", body = ErrorBody)),
    security(("bearer" = [])))]
async fn scan_card(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiJson(req): ApiJson<ScanRequest>,
) -> ApiResult<ApiJson<ScanResult>> {
    let actor = Actor::merchant(&user)?;
    let basket = req.basket.as_ref().map(AmountText::positive).transpose()?;
    app.ensure_events(&ctx);
    let card = CardRef::from_request(req.token.as_deref(), req.card_number.as_deref())?;
    // A scanned card is read with the other scans this process is doing (one
    // read for them all, and one call for their tablets' velocity); a typed
    // number, or batching off, alone.
    let result = match card {
        CardRef::Token(token) if app.batcher.scans_enabled() => {
            let job = batch::ScanJob::new(actor, token, basket);
            app.batcher.submit_scan(&app, &ctx, job).await?
        }
        _ => {
            throttle_device(&ctx, actor.device, app.config.device_rate).await?;
            scan::online(&app, &ctx, &actor, card, basket).await?
        }
    };
    Ok(ApiJson(result))
}
