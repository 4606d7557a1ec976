use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct DeviceRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub name: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_enrolment(
    conn: &mut PgConnection,
    town: Uuid,
    merchant: Uuid,
    code_hash: &[u8],
    name: &str,
    by: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO device_enrolments (id, town_id, merchant_id, code_hash, device_name, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(town)
    .bind(merchant)
    .bind(code_hash)
    .bind(name)
    .bind(by)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a one-time code: marks it used and returns (merchant, device name).
pub async fn take_enrolment(
    conn: &mut PgConnection,
    code_hash: &[u8],
    device: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE device_enrolments SET used_at = now(), device_id = $2
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING merchant_id, device_name",
    )
    .bind(code_hash)
    .bind(device)
    .fetch_optional(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    town: Uuid,
    merchant: Uuid,
    name: &str,
    credential_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO devices (id, town_id, merchant_id, name, credential_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(town)
    .bind(merchant)
    .bind(name)
    .bind(credential_hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// The active device holding this credential: (id, merchant).
pub async fn by_credential(
    conn: &mut PgConnection,
    credential_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE devices SET last_seen_at = now()
         WHERE credential_hash = $1 AND revoked_at IS NULL RETURNING id, merchant_id",
    )
    .bind(credential_hash)
    .fetch_optional(conn)
    .await
}

pub async fn is_active(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let ok: Option<bool> =
        sqlx::query_scalar("SELECT revoked_at IS NULL FROM devices WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(ok.unwrap_or(false))
}

pub async fn of_merchant(
    conn: &mut PgConnection,
    merchant: Uuid,
) -> Result<Vec<DeviceRow>, sqlx::Error> {
    sqlx::query_as::<_, DeviceRow>(
        "SELECT id, merchant_id, name, enrolled_at, last_seen_at, revoked_at FROM devices
         WHERE merchant_id = $1 ORDER BY enrolled_at",
    )
    .bind(merchant)
    .fetch_all(conn)
    .await
}

/// Revokes a device of this merchant; false if there is none.
pub async fn revoke(
    conn: &mut PgConnection,
    merchant: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND merchant_id = $2",
    )
    .bind(id)
    .bind(merchant)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
