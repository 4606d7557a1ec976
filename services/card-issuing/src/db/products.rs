use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow, Clone)]
pub struct ProductRow {
    pub id: Uuid,
    pub code: String,
    pub names: serde_json::Value,
    pub kind: String,
    pub validity_hours: Option<i32>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub price: Decimal,
    /// The town's time zone: fixed-date validity starts and ends at its midnight.
    pub timezone: String,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, code, names, kind, validity_hours, valid_from, valid_to, price, \
             (SELECT timezone FROM towns WHERE towns.id = card_products.town_id) AS timezone \
             FROM card_products ",
            $rest
        )
    };
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<ProductRow>> {
    sqlx::query_as(select!("ORDER BY code"))
        .fetch_all(conn)
        .await
}

pub async fn by_code(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(select!("WHERE code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(select!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn insert(
    conn: &mut PgConnection,
    town: kernel::TownId,
    p: &ProductRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO card_products (id, town_id, code, names, kind, validity_hours, valid_from, valid_to, price)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(p.id)
    .bind(town.as_uuid())
    .bind(&p.code)
    .bind(&p.names)
    .bind(&p.kind)
    .bind(p.validity_hours)
    .bind(p.valid_from)
    .bind(p.valid_to)
    .bind(p.price)
    .execute(conn)
    .await?;
    Ok(())
}
