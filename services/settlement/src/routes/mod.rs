use chrono::NaiveDate;
use platform::{ApiError, Context};
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;

use crate::db::periods::{self, PeriodRow};

mod downloads;
mod ledger;
mod payout;
mod periods_api;
mod reconciliation;
mod statements;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .merge(ledger::router())
        .merge(periods_api::router())
        .merge(statements::router())
        .merge(reconciliation::router())
        .merge(downloads::router())
        .merge(payout::router())
}

/// The period of the caller's town (row-level security hides every other town's).
pub(crate) async fn period(
    conn: &mut PgConnection,
    month: NaiveDate,
) -> Result<PeriodRow, ApiError> {
    periods::find(conn, month)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "no such period"))
}
