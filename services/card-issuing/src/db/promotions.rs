//! Read-only views of the town's promotions for the visitor page.
use sqlx::PgConnection;

#[derive(sqlx::FromRow)]
pub struct PromotionRow {
    pub name: String,
    pub description: String,
    pub ends_on: chrono::NaiveDate,
}

/// Promotions running today that this product's cards may use.
pub async fn current(
    conn: &mut PgConnection,
    product_code: &str,
) -> sqlx::Result<Vec<PromotionRow>> {
    sqlx::query_as(
        "SELECT name, description, ends_on FROM promotions
         WHERE current_date BETWEEN starts_on AND ends_on
           AND (NOT rules ? 'eligible_products' OR rules->'eligible_products' ? $1)
         ORDER BY ends_on, name LIMIT 20",
    )
    .bind(product_code)
    .fetch_all(conn)
    .await
}

/// Merchants taking part in a current promotion.
pub async fn merchants(
    conn: &mut PgConnection,
    product_code: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT DISTINCT m.name, m.category FROM merchants m
         JOIN promotion_merchants pm ON pm.merchant_id = m.id AND pm.status = 'approved'
         JOIN promotions p ON p.id = pm.promotion_id
         WHERE current_date BETWEEN p.starts_on AND p.ends_on
           AND (NOT p.rules ? 'eligible_products' OR p.rules->'eligible_products' ? $1)
         ORDER BY m.name LIMIT 50",
    )
    .bind(product_code)
    .fetch_all(conn)
    .await
}
