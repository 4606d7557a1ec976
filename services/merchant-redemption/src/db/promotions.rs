use chrono::{DateTime, NaiveDate, Utc};
use kernel::Percent;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::rules::{Promotion, Rules};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PromotionRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub co_financing_percent: Decimal,
    pub rules: serde_json::Value,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requires_approval: bool,
    pub owner_merchant_id: Option<Uuid>,
    pub budget_total: Option<Decimal>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl PromotionRow {
    /// The rules as the domain sees them; a row whose rules do not parse is skipped
    /// by callers (it was written by hand, not through the API).
    pub fn to_domain(&self) -> Option<Promotion> {
        let rules: Rules = serde_json::from_value(self.rules.clone()).ok()?;
        Some(Promotion {
            id: self.id,
            name: self.name.clone(),
            co_financing: Percent::try_from_decimal(self.co_financing_percent).ok()?,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            rules,
            owner_merchant: self.owner_merchant_id,
            closed: self.closed_at.is_some(),
        })
    }
}

const COLUMNS: &str = "p.id, p.name, p.description, p.co_financing_percent, p.rules, p.starts_on,
    p.ends_on, p.requires_approval, p.owner_merchant_id, p.budget_total, p.closed_at";

pub async fn all(conn: &mut PgConnection) -> Result<Vec<PromotionRow>, sqlx::Error> {
    sqlx::query_as::<_, PromotionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promotions p ORDER BY p.starts_on, p.name"
    )))
    .fetch_all(conn)
    .await
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<PromotionRow>, sqlx::Error> {
    sqlx::query_as::<_, PromotionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promotions p WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Promotions this merchant may give: its own offers and joint promotions it was
/// approved for (and has not left), not closed.
pub async fn offers_of(
    conn: &mut PgConnection,
    merchant: Uuid,
) -> Result<Vec<PromotionRow>, sqlx::Error> {
    sqlx::query_as::<_, PromotionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promotions p
         WHERE p.closed_at IS NULL AND (p.owner_merchant_id = $1 OR EXISTS (
             SELECT 1 FROM promotion_merchants pm
             WHERE pm.promotion_id = p.id AND pm.merchant_id = $1 AND pm.status = 'approved'))
         ORDER BY p.name"
    )))
    .bind(merchant)
    .fetch_all(conn)
    .await
}

/// One promotion if this merchant may give it now.
pub async fn offer(
    conn: &mut PgConnection,
    merchant: Uuid,
    promotion: Uuid,
) -> Result<Option<PromotionRow>, sqlx::Error> {
    sqlx::query_as::<_, PromotionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promotions p
         WHERE p.id = $2 AND (p.owner_merchant_id = $1 OR EXISTS (
             SELECT 1 FROM promotion_merchants pm
             WHERE pm.promotion_id = p.id AND pm.merchant_id = $1 AND pm.status = 'approved'))"
    )))
    .bind(merchant)
    .bind(promotion)
    .fetch_optional(conn)
    .await
}

/// `offer` for several (merchant, promotion) pairs at once: the pairs that are
/// offers, each with its promotion.
pub async fn offers_for(
    conn: &mut PgConnection,
    merchants: &[Uuid],
    promotions: &[Uuid],
) -> Result<Vec<(Uuid, PromotionRow)>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT ON (u.merchant, p.id) u.merchant AS pair_merchant, {COLUMNS}
         FROM unnest($1::uuid[], $2::uuid[]) AS u(merchant, promotion)
         JOIN promotions p ON p.id = u.promotion
         WHERE p.owner_merchant_id = u.merchant OR EXISTS (
             SELECT 1 FROM promotion_merchants pm
             WHERE pm.promotion_id = p.id AND pm.merchant_id = u.merchant AND pm.status = 'approved')"
    )))
    .bind(merchants)
    .bind(promotions)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("pair_merchant")?, sqlx::FromRow::from_row(r)?)))
        .collect()
}

pub struct NewPromotion<'a> {
    pub id: Uuid,
    pub town: Uuid,
    pub name: &'a str,
    pub description: &'a str,
    pub co_financing: Decimal,
    pub rules: serde_json::Value,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub requires_approval: bool,
    pub owner_merchant: Option<Uuid>,
    pub budget_total: Option<Decimal>,
}

pub async fn insert(conn: &mut PgConnection, p: &NewPromotion<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO promotions (id, town_id, name, description, co_financing_percent, rules,
             starts_on, ends_on, requires_approval, owner_merchant_id, budget_total)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(p.id)
    .bind(p.town)
    .bind(p.name)
    .bind(p.description)
    .bind(p.co_financing)
    .bind(&p.rules)
    .bind(p.starts_on)
    .bind(p.ends_on)
    .bind(p.requires_approval)
    .bind(p.owner_merchant)
    .bind(p.budget_total)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a merchant's participation; returns the status now stored.
pub async fn set_participation(
    conn: &mut PgConnection,
    town: Uuid,
    promotion: Uuid,
    merchant: Uuid,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (promotion_id, merchant_id) DO UPDATE SET status = EXCLUDED.status, joined_at = now()",
    )
    .bind(town)
    .bind(promotion)
    .bind(merchant)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn participation(
    conn: &mut PgConnection,
    promotion: Uuid,
    merchant: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT status FROM promotion_merchants WHERE promotion_id = $1 AND merchant_id = $2",
    )
    .bind(promotion)
    .bind(merchant)
    .fetch_optional(conn)
    .await
}
