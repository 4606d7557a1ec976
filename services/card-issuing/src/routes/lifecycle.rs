use axum::extract::State;
use chrono::Utc;
use platform::error::{ApiBytes, ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cards::CardView;
use super::{OPERATORS, Who};
use crate::db::cards::CardRow;
use crate::db::products::ProductRow;
use crate::db::towns::TownRow;
use crate::domain::events::{self, Changed};
use crate::domain::issue::new_page_code;
use crate::domain::lifecycle::{self, Action, Validity};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(change_card))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ChangeCard {
    /// Why (kept in the card's audit trail), e.g. "lost at the beach".
    #[serde(default)]
    pub reason: String,
}

/// Applies one lifecycle action, records it with its actor and returns the change
/// to announce once the transaction commits.
pub(crate) async fn apply_and_record(
    conn: &mut PgConnection,
    town: &TownRow,
    product: &ProductRow,
    card: &CardRow,
    action: Action,
    who: &Who,
    reason: &str,
) -> ApiResult<(CardRow, Changed)> {
    let validity = Validity::from_product(product).ok_or_else(|| {
        ApiError::unprocessable("product_incomplete", "the product's validity is not set")
    })?;
    let next = lifecycle::apply(action, card, validity, Utc::now(), new_page_code)
        .map_err(|e| ApiError::conflict(e.code(), e.to_string()))?;
    crate::db::cards::update_state(conn, &next).await?;
    let at = crate::db::events::insert(
        conn,
        &crate::db::events::NewEvent {
            town: town.town(),
            card_id: card.id,
            change: action.change(),
            token_serial: next.token_serial,
            actor_id: &who.id,
            actor_role: who.role,
            reason,
        },
    )
    .await?;
    let change = Changed {
        town: town.town(),
        card_id: card.id,
        change: action.change(),
        token_serial: next.token_serial,
        at,
    };
    Ok((next, change))
}

/// Activates, suspends, resumes, replaces (new token serial: the old QR is refused
/// with `card_replaced`), expires a card, or erases its holder's personal data.
#[utoipa::path(post, path = "/issuing/v1/cards/{number}/actions/{action}", tag = "card lifecycle",
    params(("number" = String, Path, description = "12 digits, spaces allowed"),
           ("action" = String, Path, description = "activate, suspend, resume, replace, expire or erase")),
    request_body(content = ChangeCard, description = "optional; the reason is recorded"),
    responses((status = 200, body = CardView),
              (status = 400, description = "card_number_invalid, unknown_action", body = ErrorBody),
              (status = 404, description = "card_not_found", body = ErrorBody),
              (status = 409, description = "card_suspended, card_expired, card_already_active, card_not_suspended", body = ErrorBody)),
    security(("bearer" = [])))]
async fn change_card(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((number, action)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<ApiJson<CardView>> {
    user.require(OPERATORS)?;
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_action",
            "use activate, suspend, resume, replace, expire or erase",
        )
    })?;
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<ChangeCard>(&body)
            .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?
            .reason
    };
    if reason.chars().count() > 500 {
        return Err(ApiError::unprocessable(
            "reason_too_long",
            "a reason has at most 500 characters",
        ));
    }
    let who = Who::of(&user);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let card = super::card(&mut tx, &number, true).await?;
    let product = crate::db::products::by_id(&mut tx, card.product_id)
        .await?
        .ok_or_else(|| ApiError::internal("card without product"))?;
    let (next, change) =
        apply_and_record(&mut tx, &town, &product, &card, action, &who, &reason).await?;
    tx.commit().await?;
    events::publish(&ctx.redis, &[change]).await;
    Ok(ApiJson(CardView::new(&ctx, &next, &product.code)))
}
