//! Closing a period: lock it, freeze its totals from the journal, anchor the chain.

use chrono::NaiveDate;
use kernel::TownId;
use platform::ApiError;
use sqlx::PgConnection;

use crate::db::periods::{self, PeriodRow};
use crate::db::totals;

/// Closes `month`. Waits for bookings in flight (they hold a share lock on the
/// period row); afterwards nothing can be booked into it.
pub async fn close(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    by: Option<uuid::Uuid>,
) -> Result<PeriodRow, ApiError> {
    let current = periods::ensure_current(conn, town).await?;
    let period = periods::lock(conn, month)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "no such period"))?;
    if period.status != "open" {
        return Err(ApiError::conflict(
            "period_not_open",
            format!("the period is already {}", period.status),
        ));
    }
    if month >= current {
        return Err(ApiError::conflict(
            "period_not_over",
            "a month can be closed only after it has ended",
        ));
    }
    // One big aggregate; JIT compilation costs more than it saves here.
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    totals::freeze(conn, town, month).await?;
    // What the reports print about the town and its merchants, as it is now: a
    // rename or new IBAN after the close must not change a closed download.
    totals::freeze_names(conn, town, month).await?;
    // The redemption rows must agree with their journal transactions; if not, the
    // whole close rolls back.
    let bad = totals::mismatches(conn, town, month).await?;
    if let Some(m) = bad.first() {
        tracing::error!(merchant.id = %m, "redemption rows disagree with the journal");
        return Err(ApiError::conflict(
            "journal_mismatch",
            format!("the redemptions of merchant {m} disagree with the journal; run the audit"),
        ));
    }
    let digest = ledger::lane_heads_digest(conn, town)
        .await
        .map_err(ApiError::internal)?;
    periods::mark_closed(conn, month, by, &digest).await?;
    periods::find(conn, month)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "no such period"))
}
