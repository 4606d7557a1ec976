use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CardRow {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub token_serial: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub product_code: String,
    pub product_kind: String,
    pub validity_hours: Option<i32>,
}

const SELECT: &str =
    "SELECT c.id, c.number, c.status, c.token_serial, c.expires_at, c.activated_at,
        p.code AS product_code, p.kind AS product_kind, p.validity_hours
    FROM cards c JOIN card_products p ON p.id = c.product_id";

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<CardRow>, sqlx::Error> {
    sqlx::query_as::<_, CardRow>(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The cards among `ids` (of the transaction's town), in no particular order.
pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<CardRow>, sqlx::Error> {
    sqlx::query_as::<_, CardRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<CardRow>, sqlx::Error> {
    sqlx::query_as::<_, CardRow>(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.number = $1")))
        .bind(number)
        .fetch_optional(conn)
        .await
}

/// Starts a tourist card's validity at its first use. Only one caller wins; the
/// others read the activated card.
pub async fn activate(conn: &mut PgConnection, id: Uuid) -> Result<Option<CardRow>, sqlx::Error> {
    sqlx::query(
        "UPDATE cards c SET status = 'active', activated_at = now(),
             expires_at = now() + make_interval(hours => p.validity_hours)
         FROM card_products p
         WHERE c.id = $1 AND c.status = 'issued' AND p.id = c.product_id
           AND p.kind = 'tourist_hours' AND p.validity_hours IS NOT NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    by_id(conn, id).await
}

/// What a batch of scans reads, in one call outside any transaction
/// (`redemption_scan_read`): the cards among `ids`, and the counters at each
/// (scan, promotion, scope, key) that exist.
pub struct ScanRead {
    pub cards: Vec<CardRow>,
    pub counters: Vec<(i32, Uuid, String, rust_decimal::Decimal)>,
}

pub async fn scan_read(
    conn: &mut sqlx::PgConnection,
    town: Uuid,
    ids: &[Uuid],
    scan: &[i32],
    promotions: &[Uuid],
    scopes: &[&str],
    keys: &[&str],
) -> Result<ScanRead, sqlx::Error> {
    use sqlx::{FromRow, Row};
    let rows = sqlx::query("SELECT * FROM redemption_scan_read($1, $2, $3, $4, $5, $6)")
        .bind(town)
        .bind(ids)
        .bind(scan)
        .bind(promotions)
        .bind(scopes)
        .bind(keys)
        .fetch_all(conn)
        .await?;
    let mut out = ScanRead {
        cards: Vec::new(),
        counters: Vec::new(),
    };
    for r in &rows {
        match r.try_get::<Option<Uuid>, _>("promotion_id")? {
            None => out.cards.push(CardRow::from_row(r)?),
            Some(p) => out.counters.push((
                r.try_get("scan_index")?,
                p,
                r.try_get("scope")?,
                r.try_get("used")?,
            )),
        }
    }
    Ok(out)
}
