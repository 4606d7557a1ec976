use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RedemptionRow {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub merchant_name: String,
    pub promotion_id: Uuid,
    pub promotion_name: String,
    pub card_id: Uuid,
    pub card_number: String,
    pub device_id: Option<Uuid>,
    pub receipt_number: String,
    pub request_hash: Option<Vec<u8>>,
    pub basket: Decimal,
    pub discount: Decimal,
    pub municipality_share: Decimal,
    pub merchant_share: Decimal,
    pub points_earned: i32,
    pub points_spent: i32,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub journal_tx: Uuid,
    pub points_tx: Option<Uuid>,
    pub counters: serde_json::Value,
}

const SELECT: &str = "SELECT r.id, r.merchant_id, m.name AS merchant_name, r.promotion_id,
        p.name AS promotion_name, r.card_id, c.number AS card_number, r.device_id,
        r.receipt_number, r.request_hash, r.basket, r.discount, r.municipality_share,
        r.merchant_share, r.points_earned, r.points_spent, r.status, r.occurred_at,
        r.recorded_at, r.journal_tx, r.points_tx, r.counters
    FROM redemptions r
    JOIN merchants m ON m.id = r.merchant_id
    JOIN promotions p ON p.id = r.promotion_id
    JOIN cards c ON c.id = r.card_id";

pub async fn by_id(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    sqlx::query_as::<_, RedemptionRow>(sqlx::AssertSqlSafe(format!("{SELECT} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks the redemption row: reversals of one redemption run one at a time.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM redemptions WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// A merchant's redemptions recorded on one local day of the town.
pub async fn of_day(
    conn: &mut PgConnection,
    merchant: Uuid,
    day: NaiveDate,
    tz: &str,
) -> Result<Vec<RedemptionRow>, sqlx::Error> {
    sqlx::query_as::<_, RedemptionRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE r.merchant_id = $1
           AND r.recorded_at >= ($2::date::timestamp AT TIME ZONE $3)
           AND r.recorded_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
         ORDER BY r.recorded_at DESC LIMIT 1000"
    )))
    .bind(merchant)
    .bind(day)
    .bind(tz)
    .fetch_all(conn)
    .await
}

pub struct NewRedemption<'a> {
    pub id: Uuid,
    pub town: Uuid,
    pub merchant: Uuid,
    pub promotion: Uuid,
    pub card: Uuid,
    pub device: Option<Uuid>,
    pub staff: Option<Uuid>,
    pub town_code: u16,
    pub key: &'a str,
    pub request_hash: &'a [u8],
    pub basket: Decimal,
    pub discount: Decimal,
    pub municipality: Decimal,
    pub merchant_share: Decimal,
    pub points_earned: i32,
    pub points_spent: i32,
    pub occurred_at: DateTime<Utc>,
    pub journal_tx: Uuid,
    pub points_tx: Option<Uuid>,
    pub counters: serde_json::Value,
}

/// What the database adds to a new redemption.
#[derive(sqlx::FromRow)]
pub struct Inserted {
    pub receipt_number: String,
    pub status: String,
    pub recorded_at: DateTime<Utc>,
    pub merchant_name: String,
}

/// Inserts the redemption, booked into the open period.
pub async fn insert(
    conn: &mut PgConnection,
    r: &NewRedemption<'_>,
) -> Result<Inserted, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, device_id,
             staff_user_id, receipt_number, idempotency_key, request_hash, basket, discount,
             municipality_share, merchant_share, points_earned, points_spent, occurred_at,
             period, adjustment, journal_tx, points_tx, counters)
         SELECT $1, $2, $3, $4, $5, $6, $7,
             $8::text || '-' || to_char(now() AT TIME ZONE 'Europe/Ljubljana', 'YYMMDD') || '-'
                 || lpad(nextval('redemption_receipt_seq')::text, 8, '0'),
             $9, $10, $11, $12, $13, $14, $15, $16, $17, b.period,
             b.period <> natural_period($2, $17), $18, $19, $20
         FROM (SELECT booking_period($2, $17) AS period) b
         RETURNING receipt_number, status, recorded_at,
             (SELECT m.name FROM merchants m WHERE m.id = merchant_id) AS merchant_name",
    )
    .bind(r.id)
    .bind(r.town)
    .bind(r.merchant)
    .bind(r.promotion)
    .bind(r.card)
    .bind(r.device)
    .bind(r.staff)
    .bind(r.town_code.to_string())
    .bind(r.key)
    .bind(r.request_hash)
    .bind(r.basket)
    .bind(r.discount)
    .bind(r.municipality)
    .bind(r.merchant_share)
    .bind(r.points_earned)
    .bind(r.points_spent)
    .bind(r.occurred_at)
    .bind(r.journal_tx)
    .bind(r.points_tx)
    .bind(&r.counters)
    .fetch_one(conn)
    .await
}

/// What earlier reversals of a redemption took back: (basket, municipality, merchant).
pub async fn reversed(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(Decimal, Decimal, Decimal), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(basket_refunded), 0), coalesce(sum(municipality_reversed), 0),
                coalesce(sum(merchant_reversed), 0)
         FROM redemption_reversals WHERE redemption_id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

pub struct NewReversal<'a> {
    pub id: Uuid,
    pub town: Uuid,
    pub redemption: Uuid,
    pub kind: &'a str,
    pub key: &'a str,
    pub basket: Decimal,
    pub municipality: Decimal,
    pub merchant_share: Decimal,
    pub reason: &'a str,
    pub staff: Option<Uuid>,
    pub journal_tx: Uuid,
    pub points_tx: Option<Uuid>,
}

pub async fn insert_reversal(
    conn: &mut PgConnection,
    r: &NewReversal<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO redemption_reversals (id, town_id, redemption_id, kind, idempotency_key,
             basket_refunded, discount_reversed, municipality_reversed, merchant_reversed, reason,
             staff_user_id, occurred_at, period, adjustment, journal_tx, points_tx)
         SELECT $1, $2, $3, $4, $5, $6, $7 + $8, $7, $8, $9, $10, now(), b.period,
             b.period <> natural_period($2, now()), $11, $12
         FROM (SELECT booking_period($2, now()) AS period) b",
    )
    .bind(r.id)
    .bind(r.town)
    .bind(r.redemption)
    .bind(r.kind)
    .bind(r.key)
    .bind(r.basket)
    .bind(r.municipality)
    .bind(r.merchant_share)
    .bind(r.reason)
    .bind(r.staff)
    .bind(r.journal_tx)
    .bind(r.points_tx)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE redemptions SET status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

/// A reversal already recorded under this key: (redemption id, kind).
pub async fn reversal_by_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT redemption_id, kind FROM redemption_reversals WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await
}
