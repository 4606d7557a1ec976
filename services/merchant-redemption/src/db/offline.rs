//! What a tablet takes offline (town, keys, cards) and what it syncs back (stored
//! per-item outcomes, the per-device daily allowance).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TownRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub code: i16,
    pub timezone: String,
}

pub async fn town(conn: &mut PgConnection, id: Uuid) -> Result<Option<TownRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, slug, name, code, timezone FROM towns WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The town's QR verifying keys that are not revoked: (kid, 32 raw bytes).
pub async fn qr_keys(conn: &mut PgConnection) -> Result<Vec<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, public_key FROM town_keys
         WHERE purpose = 'qr' AND revoked_at IS NULL ORDER BY created_at, kid",
    )
    .fetch_all(conn)
    .await
}

/// (merchant name, device name) of an active device of this merchant.
pub async fn device_names(
    conn: &mut PgConnection,
    merchant: Uuid,
    device: Uuid,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.name, d.name FROM devices d JOIN merchants m ON m.id = d.merchant_id
         WHERE d.id = $1 AND d.merchant_id = $2 AND d.revoked_at IS NULL",
    )
    .bind(device)
    .bind(merchant)
    .fetch_optional(conn)
    .await
}

/// A card as the pack lists it: id, number, token serial, product, status, expiry.
pub type PackCard = (Uuid, String, i32, String, String, Option<DateTime<Utc>>);

/// Every card of the town except erased ones (RLS scopes it to the town).
pub async fn cards(conn: &mut PgConnection) -> Result<Vec<PackCard>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.number, c.token_serial, p.code, c.status, c.expires_at
         FROM cards c JOIN card_products p ON p.id = c.product_id
         WHERE c.erased_at IS NULL ORDER BY c.serial",
    )
    .fetch_all(conn)
    .await
}

/// The stored outcome of one synced item.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SyncedItem {
    pub request_hash: Vec<u8>,
    pub status: String,
    pub redemption_id: Option<Uuid>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Serializes work on one item id of one device until the transaction ends.
pub async fn lock_item(conn: &mut PgConnection, device: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 43))")
        .bind(format!("offline:{device}:{id}"))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn synced(
    conn: &mut PgConnection,
    device: Uuid,
    id: Uuid,
) -> Result<Option<SyncedItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, status, redemption_id, code, message FROM offline_sync_items
         WHERE device_id = $1 AND id = $2",
    )
    .bind(device)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub struct NewItem<'a> {
    pub town: Uuid,
    pub device: Uuid,
    pub id: Uuid,
    pub request_hash: &'a [u8],
    pub occurred_at: DateTime<Utc>,
    pub redemption: Option<Uuid>,
    pub code: Option<&'a str>,
    pub message: Option<&'a str>,
}

pub async fn record(conn: &mut PgConnection, i: &NewItem<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO offline_sync_items (town_id, device_id, id, request_hash, occurred_at,
             status, redemption_id, code, message)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::uuid IS NULL THEN 'rejected' ELSE 'accepted' END,
             $6, $7, $8)",
    )
    .bind(i.town)
    .bind(i.device)
    .bind(i.id)
    .bind(i.request_hash)
    .bind(i.occurred_at)
    .bind(i.redemption)
    .bind(i.code)
    .bind(i.message)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts one offline redemption against the device's allowance of `day`; false
/// (nothing changed) when it would exceed `max_count` or `max_amount`.
pub async fn take_allowance(
    conn: &mut PgConnection,
    town: Uuid,
    device: Uuid,
    day: NaiveDate,
    municipality: Decimal,
    max_count: i32,
    max_amount: Decimal,
) -> Result<bool, sqlx::Error> {
    let row: Option<i32> = sqlx::query_scalar(
        "INSERT INTO offline_allowances AS a (town_id, device_id, day, redemptions, municipality)
         SELECT $1, $2, $3, 1, $4 WHERE 1 <= $5 AND $4 <= $6
         ON CONFLICT (device_id, day) DO UPDATE
             SET redemptions = a.redemptions + 1, municipality = a.municipality + EXCLUDED.municipality
             WHERE a.redemptions + 1 <= $5 AND a.municipality + EXCLUDED.municipality <= $6
         RETURNING redemptions",
    )
    .bind(town)
    .bind(device)
    .bind(day)
    .bind(municipality)
    .bind(max_count)
    .bind(max_amount)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
