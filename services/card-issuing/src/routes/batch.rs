use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::CardNumber;
use platform::error::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OPERATORS, Who};
use crate::db::cards::Holder;
use crate::domain::sheet::{self, PrintCard};
use crate::domain::{events, issue, keys};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(create_batch))
        .routes(routes!(get_batch_csv))
        .routes(routes!(get_batch_sheet))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    pub product_code: String,
    /// 1 to 20,000 cards.
    pub count: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Batch {
    pub id: uuid::Uuid,
    pub count: u32,
    pub first_number: String,
    pub last_number: String,
    /// CSV: number, QR payload, page URL — one line per card.
    pub csv_url: String,
    /// Printable A4 sheets, ten cards a page: `sheet_url?page=1..=pages`.
    pub sheet_url: String,
    pub pages: u32,
}

fn shown(digits: &str) -> String {
    CardNumber::parse(digits)
        .map(|n| n.to_string())
        .unwrap_or_else(|_| digits.to_owned())
}

/// Issues a batch of unpersonalised cards for the print shop.
#[utoipa::path(post, path = "/issuing/v1/batches", tag = "print batches", request_body = CreateBatch,
    responses((status = 201, body = Batch),
              (status = 404, description = "product_not_found", body = ErrorBody),
              (status = 422, description = "batch_size_invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_batch(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(body): ApiJson<CreateBatch>,
) -> ApiResult<(StatusCode, ApiJson<Batch>)> {
    user.require(OPERATORS)?;
    let who = Who::of(&user);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let product = crate::db::products::by_code(&mut tx, &body.product_code)
        .await?
        .ok_or_else(|| ApiError::not_found("product_not_found", "no such card product"))?;
    keys::signer(&mut tx, town.town(), &super::kek(&ctx)?).await?;
    let id = uuid::Uuid::now_v7();
    let req = issue::Request {
        town: town.town(),
        town_code: town.code(),
        product: &product,
        count: body.count,
        holder: Holder {
            name: None,
            email: None,
            lang: None,
        },
        batch: Some(id),
    };
    let (cards, changes) = issue::issue(&mut tx, &req, &who.actor()).await?;
    tx.commit().await?;
    events::publish(&ctx.redis, &changes).await;
    let base = ctx.settings.server.public_url.trim_end_matches('/');
    Ok((
        StatusCode::CREATED,
        ApiJson(Batch {
            id,
            count: body.count,
            first_number: cards.numbers.first().map(|n| shown(n)).unwrap_or_default(),
            last_number: cards.numbers.last().map(|n| shown(n)).unwrap_or_default(),
            csv_url: format!("{base}/issuing/v1/batches/{id}/cards.csv"),
            sheet_url: format!("{base}/issuing/v1/batches/{id}/sheet.svg"),
            pages: body.count.div_ceil(sheet::PER_PAGE as u32),
        }),
    ))
}

/// The batch as CSV: `number,qr_payload,page_url`, one card per line.
#[utoipa::path(get, path = "/issuing/v1/batches/{id}/cards.csv", tag = "print batches",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "text/csv", content_type = "text/csv", body = String),
              (status = 404, description = "batch_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_batch_csv(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Response> {
    user.require(OPERATORS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    crate::db::cards::batch(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("batch_not_found", "no such batch in this town"))?;
    let (kid, key) = keys::signer(&mut tx, town.town(), &super::kek(&ctx)?).await?;
    let cards = crate::db::cards::in_batch(&mut tx, id).await?;
    tx.commit().await?;
    let mut csv = String::with_capacity(cards.len() * 260);
    csv.push_str("number,qr_payload,page_url\r\n");
    for c in &cards {
        // Numbers are digits and spaces, payloads Base45: nothing needs quoting.
        let token = issue::token(town.code(), c.id, c.token_serial, &kid, &key);
        csv.push_str(&format!(
            "{},{token},{}\r\n",
            shown(&c.number),
            super::page_url(&ctx, &c.page_code)
        ));
    }
    let disposition = format!("attachment; filename=\"batch-{id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1-based page number (ten cards a page).
    pub page: Option<u32>,
}

/// One printable A4 page of the batch (SVG, ten cards with QR and number).
#[utoipa::path(get, path = "/issuing/v1/batches/{id}/sheet.svg", tag = "print batches",
    params(("id" = uuid::Uuid, Path), Page),
    responses((status = 200, description = "image/svg+xml", content_type = "image/svg+xml", body = String),
              (status = 404, description = "batch_not_found, page_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_batch_sheet(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Response> {
    user.require(OPERATORS)?;
    let page = page.page.unwrap_or(1);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, &user).await?;
    let (product_id, count, first_serial) = crate::db::cards::batch(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("batch_not_found", "no such batch in this town"))?;
    let pages = (count as u32).div_ceil(sheet::PER_PAGE as u32);
    if page == 0 || page > pages {
        return Err(ApiError::not_found(
            "page_not_found",
            format!("pages are 1 to {pages}"),
        ));
    }
    let product = crate::db::products::by_id(&mut tx, product_id)
        .await?
        .ok_or_else(|| ApiError::internal("batch without product"))?;
    let (kid, key) = keys::signer(&mut tx, town.town(), &super::kek(&ctx)?).await?;
    let from = first_serial + (page as i32 - 1) * sheet::PER_PAGE as i32;
    let cards = crate::db::cards::in_batch_page(&mut tx, id, from, sheet::PER_PAGE as i64).await?;
    tx.commit().await?;
    let title = product
        .names
        .get("sl")
        .and_then(|v| v.as_str())
        .unwrap_or(&product.code)
        .to_owned();
    let print: Vec<PrintCard<'_>> = cards
        .iter()
        .map(|c| PrintCard {
            number: shown(&c.number),
            token: issue::token(town.code(), c.id, c.token_serial, &kid, &key),
            title: &title,
            town: &town.name,
        })
        .collect();
    let svg = sheet::page(&print).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}
