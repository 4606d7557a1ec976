use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kernel::CardNumber;
use platform::error::{ApiPath, ApiQuery, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OPERATORS;
use crate::domain::qr::{MAX_SIZE, MIN_SIZE};
use crate::domain::{issue, keys, qr};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(get_card_qr_svg))
        .routes(routes!(get_card_qr_png))
}

/// Response header naming the QR version (1–40) of the image, at error correction M.
const QR_VERSION: header::HeaderName = header::HeaderName::from_static("x-qr-version");

fn version(token: &str) -> String {
    qr::Matrix::new(token)
        .map(|m| m.version.to_string())
        .unwrap_or_default()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Size {
    /// Width in pixels, 96..=2048 (default 300).
    pub size: Option<u32>,
}

impl Size {
    fn checked(&self) -> ApiResult<u32> {
        let size = self.size.unwrap_or(300);
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(ApiError::bad_request(
                "size_invalid",
                format!("size is {MIN_SIZE} to {MAX_SIZE} pixels"),
            ));
        }
        Ok(size)
    }
}

/// The card's QR image as `render` draws it, with its content type and QR version.
async fn card_qr<B: IntoResponse, E: std::fmt::Display>(
    ctx: &Context,
    user: &AuthUser,
    number: &str,
    size: &Size,
    content_type: &'static str,
    render: impl Fn(&str, &str, u32) -> Result<B, E>,
) -> ApiResult<Response> {
    let size = size.checked()?;
    let (token, shown) = token_and_number(ctx, user, number).await?;
    let image = render(&token, &shown, size).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (QR_VERSION, version(&token)),
        ],
        image,
    )
        .into_response())
}

/// The card's current token and printed number.
async fn token_and_number(
    ctx: &Context,
    user: &AuthUser,
    number: &str,
) -> ApiResult<(String, String)> {
    user.require(OPERATORS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let town = super::town(&mut tx, user).await?;
    let card = super::card(&mut tx, number, false).await?;
    let (kid, key) = keys::signer(&mut tx, town.town(), &super::kek(ctx)?).await?;
    tx.commit().await?;
    let shown = CardNumber::parse(&card.number)
        .map(|n| n.to_string())
        .unwrap_or(card.number);
    Ok((
        issue::token(town.code(), card.id, card.token_serial, &kid, &key),
        shown,
    ))
}

/// The card's QR code as SVG, with its number under it.
#[utoipa::path(get, path = "/issuing/v1/cards/{number}/qr.svg", tag = "cards",
    params(("number" = String, Path, description = "12 digits"), Size),
    responses((status = 200, description = "image/svg+xml", content_type = "image/svg+xml", body = String),
              (status = 400, description = "size_invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_card_qr_svg(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
    ApiQuery(size): ApiQuery<Size>,
) -> ApiResult<Response> {
    card_qr(&ctx, &user, &number, &size, "image/svg+xml", qr::svg).await
}

/// The card's QR code as PNG, with its number under it.
#[utoipa::path(get, path = "/issuing/v1/cards/{number}/qr.png", tag = "cards",
    params(("number" = String, Path, description = "12 digits"), Size),
    responses((status = 200, description = "image/png", content_type = "image/png", body = Vec<u8>),
              (status = 400, description = "size_invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_card_qr_png(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(number): ApiPath<String>,
    ApiQuery(size): ApiQuery<Size>,
) -> ApiResult<Response> {
    card_qr(&ctx, &user, &number, &size, "image/png", qr::png).await
}
