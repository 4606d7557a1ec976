use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::CardNumber;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OPERATORS, READERS, Who};
use crate::db::cards::{CardRow, Holder};
use crate::db::events::CardEvent;
use crate::domain::{events, issue, keys, lifecycle};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(issue_card))
        .routes(routes!(get_card))
        .routes(routes!(list_card_events))
        .routes(routes!(get_card_token))
}

#[derive(Serialize, ToSchema)]
pub struct CardView {
    pub id: uuid::Uuid,
    /// As printed: three groups of four digits.
    pub number: String,
    pub product_code: String,
    /// issued, active, suspended, replaced or expired (as of now).
    pub status: String,
    pub token_serial: i32,
    pub activated_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub holder_name: Option<String>,
    pub holder_email: Option<String>,
    pub holder_lang: Option<String>,
    pub erased: bool,
    /// The visitor's own page (keep it private: it is the card's web credential).
    pub page_url: String,
}

impl CardView {
    pub fn new(ctx: &Context, c: &CardRow, product_code: &str) -> CardView {
        CardView {
            id: c.id,
            number: CardNumber::parse(&c.number)
                .map(|n| n.to_string())
                .unwrap_or_else(|_| c.number.clone()),
            product_code: product_code.to_owned(),
            status: lifecycle::effective_status(c, Utc::now()).to_owned(),
            token_serial: c.token_serial,
            activated_at: c.activated_at,
            expires_at: c.expires_at,
            holder_name: c.holder_name.clone(),
            holder_email: c.holder_email.clone(),
            holder_lang: c.holder_lang.clone(),
            erased: c.erased_at.is_some(),
            page_url: super::page_url(ctx, &c.page_code),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCard {
    pub product_code: String,
    pub holder_name: Option<String>,
    pub holder_email: Option<String>,
    /// sl, en or it: the language of the card page and messages.
    pub holder_lang: Option<String>,
    /// Start the validity now (a desk sale used at once); default false: at first scan.
    #[serde(default)]
    pub activate: bool,
}

fn check_holder(b: &IssueCard) -> ApiResult<()> {
    let too_long = |s: &Option<String>, n: usize| s.as_ref().is_some_and(|s| s.chars().count() > n);
    if too_long(&b.holder_name, 200) || too_long(&b.holder_email, 254) {
        return Err(ApiError::unprocessable(
            "holder_invalid",
            "holder name or e-mail too long",
        ));
    }
    if b.holder_email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err(ApiError::unprocessable(
            "holder_invalid",
            "the e-mail address is not valid",
        ));
    }
    if b.holder_lang
        .as_ref()
        .is_some_and(|l| !matches!(l.as_str(), "sl" | "en" | "it"))
    {
        return Err(ApiError::unprocessable(
            "holder_invalid",
            "holder_lang is sl, en or it",
        ));
    }
    Ok(())
}

/// Issues one card (a desk or online sale), optionally with the holder's details.
#[utoipa::path(post, path = "/issuing/v1/cards", tag = "cards", request_body = IssueCard,
    responses((status = 201, body = CardView),
              (status = 403, body = ErrorBody),
              (status = 404, description = "product_not_found", body = ErrorBody),
              (status = 422, description = "holder_invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn issue_card(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(body): ApiJson<IssueCard>,
) -> ApiResult<(StatusCode, ApiJson<CardView>)> {
    user.require(OPERATORS)?;
    check_holder(&body)?;
    let who = Who::of(&user);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let product = crate::db::products::by_code(&mut tx, &body.product_code)
        .await?
        .ok_or_else(|| ApiError::not_found("product_not_found", "no such card product"))?;
    let req = issue::Request {
        town: town.town(),
        town_code: town.code(),
        product: &product,
        count: 1,
        holder: Holder {
            name: body.holder_name.as_deref(),
            email: body.holder_email.as_deref(),
            lang: body.holder_lang.as_deref(),
        },
        batch: None,
    };
    let (cards, mut changes) = issue::issue(&mut tx, &req, &who.actor()).await?;
    let id = cards
        .ids
        .first()
        .copied()
        .ok_or_else(|| ApiError::internal("no card issued"))?;
    let mut card = crate::db::cards::by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("issued card not found"))?;
    if body.activate {
        let (next, change) = super::lifecycle::apply_and_record(
            &mut tx,
            &town,
            &product,
            &card,
            lifecycle::Action::Activate,
            &who,
            "desk sale",
        )
        .await?;
        card = next;
        changes.push(change);
    }
    // Make sure the town can sign this card's QR before it leaves the desk.
    keys::signer(&mut tx, town.town(), &super::kek(&ctx)?).await?;
    tx.commit().await?;
    events::publish(&ctx.redis, &changes).await;
    Ok((
        StatusCode::CREATED,
        ApiJson(CardView::new(&ctx, &card, &product.code)),
    ))
}

/// Looks a card up by its printed number; a mistyped number fails its check digit.
#[utoipa::path(get, path = "/issuing/v1/cards/{number}", tag = "cards",
    params(("number" = String, Path, description = "12 digits, spaces allowed")),
    responses((status = 200, body = CardView),
              (status = 400, description = "card_number_invalid", body = ErrorBody),
              (status = 404, description = "card_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_card(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<CardView>> {
    user.require(READERS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let card = super::card(&mut tx, &number, false).await?;
    let product = crate::db::products::by_id(&mut tx, card.product_id)
        .await?
        .ok_or_else(|| ApiError::internal("card without product"))?;
    tx.commit().await?;
    Ok(ApiJson(CardView::new(&ctx, &card, &product.code)))
}

/// The card's audit trail: every lifecycle change, who made it and why.
#[utoipa::path(get, path = "/issuing/v1/cards/{number}/events", tag = "cards",
    params(("number" = String, Path, description = "12 digits, spaces allowed")),
    responses((status = 200, body = Vec<CardEvent>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_card_events(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<CardEvent>>> {
    user.require(READERS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let card = super::card(&mut tx, &number, false).await?;
    let rows = crate::db::events::for_card(&mut tx, card.id).await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}

#[derive(Serialize, ToSchema)]
pub struct CardToken {
    /// The QR payload (`TC1:` + Base45), to print or encode.
    pub token: String,
    pub kid: String,
    pub token_serial: i32,
}

/// The card's current QR payload, for printing (operators only).
#[utoipa::path(get, path = "/issuing/v1/cards/{number}/token", tag = "cards",
    params(("number" = String, Path, description = "12 digits, spaces allowed")),
    responses((status = 200, body = CardToken), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_card_token(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<CardToken>> {
    user.require(OPERATORS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let card = super::card(&mut tx, &number, false).await?;
    let (kid, key) = keys::signer(&mut tx, town.town(), &super::kek(&ctx)?).await?;
    tx.commit().await?;
    let token = issue::token(town.code(), card.id, card.token_serial, &kid, &key);
    Ok(ApiJson(CardToken {
        token,
        kid,
        token_serial: card.token_serial,
    }))
}
