//! settlement_periods: list, lock, close, pay.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::TownId;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PeriodRow {
    /// First day of the month, e.g. `2026-03-01`.
    pub month: NaiveDate,
    /// `open`, `closed` or `paid`.
    pub status: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_reference: Option<String>,
    /// Digest of the journal lane heads at close.
    pub journal_digest: String,
}

const COLUMNS: &str = "month, status, closed_at, paid_at, bank_reference, journal_digest";

/// Opens the town's current month if it does not exist yet; returns it.
pub async fn ensure_current(conn: &mut PgConnection, town: TownId) -> sqlx::Result<NaiveDate> {
    let month: NaiveDate = sqlx::query_scalar("SELECT natural_period($1, now())")
        .bind(town.as_uuid())
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO settlement_periods (town_id, month) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(town.as_uuid())
    .bind(month)
    .execute(&mut *conn)
    .await?;
    Ok(month)
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<PeriodRow>> {
    sqlx::query_as::<_, PeriodRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM settlement_periods ORDER BY month DESC"
    )))
    .fetch_all(&mut *conn)
    .await
}

pub async fn find(conn: &mut PgConnection, month: NaiveDate) -> sqlx::Result<Option<PeriodRow>> {
    sqlx::query_as::<_, PeriodRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM settlement_periods WHERE month = $1"
    )))
    .bind(month)
    .fetch_optional(&mut *conn)
    .await
}

/// Locks the period row: waits for bookings in flight (they hold FOR SHARE).
pub async fn lock(conn: &mut PgConnection, month: NaiveDate) -> sqlx::Result<Option<PeriodRow>> {
    sqlx::query_as::<_, PeriodRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM settlement_periods WHERE month = $1 FOR UPDATE"
    )))
    .bind(month)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn mark_closed(
    conn: &mut PgConnection,
    month: NaiveDate,
    by: Option<uuid::Uuid>,
    journal_digest: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE settlement_periods SET status = 'closed', closed_at = date_trunc('second', now()),
             closed_by = $2, journal_digest = $3
         WHERE month = $1 AND status = 'open'",
    )
    .bind(month)
    .bind(by)
    .bind(journal_digest)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_paid(
    conn: &mut PgConnection,
    month: NaiveDate,
    reference: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE settlement_periods SET status = 'paid', paid_at = now(), bank_reference = $2
         WHERE month = $1 AND status = 'closed'",
    )
    .bind(month)
    .bind(reference)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a download's digest the first time; returns the first one recorded.
pub async fn record_report(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    name: &str,
    sha256: &str,
    bytes: u64,
) -> sqlx::Result<String> {
    sqlx::query(
        "INSERT INTO period_reports (town_id, month, name, sha256, bytes) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(town.as_uuid())
    .bind(month)
    .bind(name)
    .bind(sha256)
    .bind(bytes as i64)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT sha256 FROM period_reports WHERE month = $1 AND name = $2")
        .bind(month)
        .bind(name)
        .fetch_one(&mut *conn)
        .await
}
