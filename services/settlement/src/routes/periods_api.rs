//! Periods: list (the current month is opened on demand) and close.

use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::periods::{self, PeriodRow};
use crate::domain::{close, month};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_periods))
        .routes(routes!(close_period))
}

/// The town's periods, newest first; the current month always exists.
#[utoipa::path(get, path = "/settlement/v1/periods", tag = "periods",
    responses((status = 200, body = Vec<PeriodRow>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_periods(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<PeriodRow>>> {
    user.require(&[Role::TownAdmin, Role::Auditor, Role::MerchantOwner])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    periods::ensure_current(&mut tx, user.town()).await?;
    let rows = periods::list(&mut tx).await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}

/// Closes a month that has ended: freezes its totals; later events become
/// adjustments in the next open period. Never reopened.
#[utoipa::path(post, path = "/settlement/v1/periods/{month}/close", tag = "periods",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = PeriodRow),
              (status = 403, description = "forbidden_role", body = ErrorBody),
              (status = 404, description = "period_not_found", body = ErrorBody),
              (status = 409, description = "period_not_open, period_not_over", body = ErrorBody)),
    security(("bearer" = [])))]
async fn close_period(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(m): ApiPath<String>,
) -> ApiResult<ApiJson<PeriodRow>> {
    user.require(&[Role::TownAdmin])?;
    let month = month::parse(&m)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let closed = close::close(
        &mut tx,
        user.town(),
        month,
        user.user_id().map(|u| u.as_uuid()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(period = %m, "period closed");
    Ok(ApiJson(closed))
}
