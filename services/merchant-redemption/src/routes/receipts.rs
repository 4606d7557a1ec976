use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use kernel::{MerchantId, Role};
use platform::error::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db::redemptions;
use crate::service::card::town_info;
use crate::service::receipt::{self, Receipt};
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_redemptions))
        .routes(routes!(get_receipt))
        .routes(routes!(print_receipt))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The local day (default: today in the town's time zone).
    pub date: Option<NaiveDate>,
    /// For town staff: whose redemptions (merchants always see their own).
    pub merchant_id: Option<Uuid>,
}

const READERS: &[Role] = &[
    Role::MerchantStaff,
    Role::MerchantOwner,
    Role::TownAdmin,
    Role::Auditor,
];

/// A merchant's redemptions of one day (today by default), newest first.
#[utoipa::path(get, path = "/redemption/v1/redemptions", tag = "redemption", params(ListQuery),
    responses((status = 200, body = Vec<Receipt>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_redemptions(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<ApiJson<Vec<Receipt>>> {
    user.require(READERS)?;
    let merchant = match (user.merchant(), q.merchant_id) {
        (Some(own), Some(asked)) if own.as_uuid() != asked => {
            return Err(ApiError::forbidden(
                "forbidden_merchant",
                "this belongs to another merchant",
            ));
        }
        (Some(own), _) => own.as_uuid(),
        (None, Some(asked)) => asked,
        (None, None) => {
            return Err(ApiError::bad_request(
                "merchant_required",
                "pass merchant_id",
            ));
        }
    };
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let info = town_info(&app, &mut tx, user.town(), false).await?;
    let day = q
        .date
        .unwrap_or_else(|| chrono::Utc::now().with_timezone(&info.tz).date_naive());
    let rows = redemptions::of_day(&mut tx, merchant, day, info.tz.name()).await?;
    tx.commit().await?;
    let list = rows
        .into_iter()
        .map(|r| receipt::from_row(r, serde_json::Value::Null, false))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ApiJson(list))
}

async fn load(
    ctx: &Context,
    app: &App,
    user: &AuthUser,
    id: Uuid,
) -> ApiResult<(Receipt, chrono_tz::Tz)> {
    user.require(READERS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let info = town_info(app, &mut tx, user.town(), false).await?;
    let r = receipt::load(&mut tx, id, false).await?;
    tx.commit().await?;
    user.require_merchant(MerchantId::from_uuid(r.merchant_id))?;
    Ok((r, info.tz))
}

/// One redemption's receipt.
#[utoipa::path(get, path = "/redemption/v1/redemptions/{id}", tag = "redemption",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Receipt), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_receipt(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Receipt>> {
    Ok(ApiJson(load(&ctx, &app, &user, id).await?.0))
}

/// The receipt as plain text for a 40-column receipt printer.
#[utoipa::path(get, path = "/redemption/v1/redemptions/{id}/receipt.txt", tag = "redemption",
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn print_receipt(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<impl IntoResponse> {
    let (r, tz) = load(&ctx, &app, &user, id).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        receipt::printable(&r, tz),
    ))
}
