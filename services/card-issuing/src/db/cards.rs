use chrono::{DateTime, Utc};
use kernel::TownId;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct CardRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub serial: i32,
    pub number: String,
    pub status: String,
    pub token_serial: i32,
    pub page_code: String,
    pub holder_name: Option<String>,
    pub holder_email: Option<String>,
    pub holder_lang: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
    pub batch_id: Option<Uuid>,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, product_id, serial, number, status, token_serial, page_code, holder_name, \
             holder_email, holder_lang, activated_at, expires_at, created_at, erased_at, batch_id \
             FROM cards ",
            $rest
        )
    };
}

pub async fn by_number(conn: &mut PgConnection, digits: &str) -> sqlx::Result<Option<CardRow>> {
    sqlx::query_as(select!("WHERE number = $1"))
        .bind(digits)
        .fetch_optional(conn)
        .await
}

/// The same, locked for a lifecycle change.
pub async fn by_number_for_update(
    conn: &mut PgConnection,
    digits: &str,
) -> sqlx::Result<Option<CardRow>> {
    sqlx::query_as(select!("WHERE number = $1 FOR UPDATE"))
        .bind(digits)
        .fetch_optional(conn)
        .await
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<CardRow>> {
    sqlx::query_as(select!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn by_page_code(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<CardRow>> {
    sqlx::query_as(select!("WHERE page_code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await
}

pub async fn in_batch(conn: &mut PgConnection, batch: Uuid) -> sqlx::Result<Vec<CardRow>> {
    sqlx::query_as(select!("WHERE batch_id = $1 ORDER BY serial"))
        .bind(batch)
        .fetch_all(conn)
        .await
}

/// Serializes serial allocation per town and returns the next free serial.
pub async fn lock_next_serial(conn: &mut PgConnection, town: TownId) -> sqlx::Result<i32> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('cards:' || $1, 0))")
        .bind(town.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT coalesce(max(serial), 0) + 1 FROM cards")
        .fetch_one(conn)
        .await
}

/// Columns of new cards, one vector per column (inserted with `unnest`).
#[derive(Default)]
pub struct NewCards {
    pub ids: Vec<Uuid>,
    pub serials: Vec<i32>,
    pub numbers: Vec<String>,
    pub page_codes: Vec<String>,
}

pub struct Holder<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub lang: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_many(
    conn: &mut PgConnection,
    town: TownId,
    product: Uuid,
    cards: &NewCards,
    holder: &Holder<'_>,
    expires_at: Option<DateTime<Utc>>,
    batch: Option<Uuid>,
    issued_by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cards (id, town_id, product_id, serial, number, page_code, holder_name,
                            holder_email, holder_lang, expires_at, batch_id, issued_by)
         SELECT i, $1, $2, s, n, p, $7, $8, $9, $10, $11, $12
         FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[]) AS t(i, s, n, p)",
    )
    .bind(town.as_uuid())
    .bind(product)
    .bind(&cards.ids)
    .bind(&cards.serials)
    .bind(&cards.numbers)
    .bind(&cards.page_codes)
    .bind(holder.name)
    .bind(holder.email)
    .bind(holder.lang)
    .bind(expires_at)
    .bind(batch)
    .bind(issued_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a card's lifecycle state back.
pub async fn update_state(conn: &mut PgConnection, c: &CardRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE cards SET status = $2, token_serial = $3, page_code = $4, activated_at = $5,
                expires_at = $6, holder_name = $7, holder_email = $8, holder_lang = $9, erased_at = $10
         WHERE id = $1",
    )
    .bind(c.id)
    .bind(&c.status)
    .bind(c.token_serial)
    .bind(&c.page_code)
    .bind(c.activated_at)
    .bind(c.expires_at)
    .bind(&c.holder_name)
    .bind(&c.holder_email)
    .bind(&c.holder_lang)
    .bind(c.erased_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_batch(
    conn: &mut PgConnection,
    town: TownId,
    id: Uuid,
    product: Uuid,
    count: i32,
    first_serial: i32,
    created_by: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO card_batches (id, town_id, product_id, card_count, first_serial, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(town.as_uuid())
    .bind(product)
    .bind(count)
    .bind(first_serial)
    .bind(created_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Points earned with this card (redemptions not voided).
pub async fn points(conn: &mut PgConnection, card: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(points_earned), 0)::bigint FROM redemptions
         WHERE card_id = $1 AND status <> 'voided'",
    )
    .bind(card)
    .fetch_one(conn)
    .await
}

/// A batch's product, size and first serial.
pub async fn batch(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<(Uuid, i32, i32)>> {
    sqlx::query_as("SELECT product_id, card_count, first_serial FROM card_batches WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Cards of a batch from `from_serial` on (a batch's serials are consecutive).
pub async fn in_batch_page(
    conn: &mut PgConnection,
    batch: Uuid,
    from_serial: i32,
    limit: i64,
) -> sqlx::Result<Vec<CardRow>> {
    sqlx::query_as(select!(
        "WHERE batch_id = $1 AND serial >= $2 ORDER BY serial LIMIT $3"
    ))
    .bind(batch)
    .bind(from_serial)
    .bind(limit)
    .fetch_all(conn)
    .await
}
