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

/// A staff user as PIN unlock sees them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PinStaff {
    pub id: Uuid,
    pub role: String,
    pub pin_hash: Option<String>,
    pub pin_failures: i32,
    pub pin_locked_until: Option<DateTime<Utc>>,
}

impl PinStaff {
    pub fn locked(&self, now: DateTime<Utc>) -> bool {
        self.pin_locked_until.is_some_and(|t| t > now)
    }
}

pub async fn staff_for_pin(
    conn: &mut PgConnection,
    merchant: Uuid,
    email: &str,
) -> Result<Option<PinStaff>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, role, pin_hash, pin_failures, pin_locked_until FROM staff_users
         WHERE merchant_id = $1 AND lower(email) = lower($2) AND disabled_at IS NULL",
    )
    .bind(merchant)
    .bind(email)
    .fetch_optional(conn)
    .await
}

/// Counts a wrong PIN (starting again after an expired lock); at `tries` in a row
/// the PIN is locked for `lock_secs`. Returns the wrong PINs in a row.
pub async fn pin_failed(
    conn: &mut PgConnection,
    staff: Uuid,
    tries: i32,
    lock_secs: i32,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "WITH s AS (
             SELECT id, CASE WHEN pin_locked_until <= now() THEN 1 ELSE pin_failures + 1 END AS n
             FROM staff_users WHERE id = $1 FOR UPDATE)
         UPDATE staff_users u SET pin_failures = s.n,
             pin_locked_until = CASE WHEN s.n >= $2 THEN now() + make_interval(secs => $3)
                                     WHEN u.pin_locked_until <= now() THEN NULL
                                     ELSE u.pin_locked_until END
         FROM s WHERE u.id = s.id
         RETURNING s.n",
    )
    .bind(staff)
    .bind(tries)
    .bind(f64::from(lock_secs))
    .fetch_one(conn)
    .await
}

/// A right PIN clears the count; false if the PIN is locked meanwhile.
pub async fn pin_succeeded(conn: &mut PgConnection, staff: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE staff_users SET pin_failures = 0, pin_locked_until = NULL
         WHERE id = $1 AND (pin_locked_until IS NULL OR pin_locked_until <= now())",
    )
    .bind(staff)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a staff user's PIN, which also lifts a PIN lock; false if there is no
/// such user at this merchant.
pub async fn set_pin(
    conn: &mut PgConnection,
    merchant: Uuid,
    staff: Uuid,
    pin_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE staff_users SET pin_hash = $3, pin_failures = 0, pin_locked_until = NULL
         WHERE id = $2 AND merchant_id = $1",
    )
    .bind(merchant)
    .bind(staff)
    .bind(pin_hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
