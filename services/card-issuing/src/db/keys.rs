use chrono::{DateTime, Utc};
use kernel::TownId;
use sqlx::PgConnection;

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub struct SigningRow {
    pub kid: String,
    #[sqlx(rename = "sealed_private_key")]
    pub sealed: Vec<u8>,
}

pub async fn insert(
    conn: &mut PgConnection,
    town: TownId,
    kid: &str,
    public_key: &[u8],
    sealed: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO town_keys (kid, town_id, purpose, public_key, sealed_private_key)
         VALUES ($1, $2, 'qr', $3, $4)",
    )
    .bind(kid)
    .bind(town.as_uuid())
    .bind(public_key)
    .bind(sealed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every key of the current town, newest first.
pub async fn list(conn: &mut PgConnection, town: TownId) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as(
        "SELECT kid, public_key, created_at, retired_at, revoked_at FROM town_keys
         WHERE town_id = $1 AND purpose = 'qr' ORDER BY created_at DESC, kid",
    )
    .bind(town.as_uuid())
    .fetch_all(conn)
    .await
}

pub async fn count(conn: &mut PgConnection, town: TownId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM town_keys WHERE town_id = $1 AND purpose = 'qr'")
        .bind(town.as_uuid())
        .fetch_one(conn)
        .await
}

/// The newest key that still signs.
pub async fn signing(conn: &mut PgConnection, town: TownId) -> sqlx::Result<Option<SigningRow>> {
    sqlx::query_as(
        "SELECT kid, sealed_private_key FROM town_keys
         WHERE town_id = $1 AND purpose = 'qr' AND retired_at IS NULL AND revoked_at IS NULL
           AND sealed_private_key IS NOT NULL
         ORDER BY created_at DESC, kid LIMIT 1",
    )
    .bind(town.as_uuid())
    .fetch_optional(conn)
    .await
}

pub async fn retire_all(conn: &mut PgConnection, town: TownId) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE town_keys SET retired_at = now() WHERE town_id = $1 AND retired_at IS NULL",
    )
    .bind(town.as_uuid())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stops a key verifying (and signing). False when the town has no such key.
pub async fn revoke(conn: &mut PgConnection, town: TownId, kid: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE town_keys SET revoked_at = coalesce(revoked_at, now()),
                              retired_at = coalesce(retired_at, now())
         WHERE kid = $1 AND town_id = $2",
    )
    .bind(kid)
    .bind(town.as_uuid())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
