use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cards::CardView;
use crate::domain::verify;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(verify_token))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyToken {
    /// The scanned QR text.
    pub token: String,
}

/// Checks a scanned QR: signature, key, town, token serial and card status.
#[utoipa::path(post, path = "/issuing/v1/tokens/verify", tag = "cards", request_body = VerifyToken,
    responses((status = 200, body = CardView),
              (status = 400, description = "token_not_ours, token_too_long, token_malformed, token_unsupported_version", body = ErrorBody),
              (status = 404, description = "card_not_found", body = ErrorBody),
              (status = 409, description = "card_replaced, card_suspended, card_expired", body = ErrorBody),
              (status = 422, description = "token_unknown_key, token_bad_signature, token_wrong_town", body = ErrorBody)),
    security(("bearer" = [])))]
async fn verify_token(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(body): ApiJson<VerifyToken>,
) -> ApiResult<ApiJson<CardView>> {
    user.require(&[
        Role::MerchantStaff,
        Role::MerchantOwner,
        Role::TicOperator,
        Role::TownAdmin,
    ])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let card = verify::verify(&mut tx, town.town(), town.code(), &body.token).await?;
    let product = crate::db::products::by_id(&mut tx, card.product_id).await?;
    tx.commit().await?;
    let code = product.map(|p| p.code).unwrap_or_default();
    Ok(ApiJson(CardView::new(&ctx, &card, &code)))
}
