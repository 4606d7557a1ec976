use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow, Clone)]
pub struct BenefitRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub kind: String,
    pub names: serde_json::Value,
    pub merchant_id: Option<Uuid>,
    pub uses: i32,
}

/// Benefits of these products, in their listed order.
pub async fn for_products(
    conn: &mut PgConnection,
    products: &[Uuid],
) -> sqlx::Result<Vec<BenefitRow>> {
    sqlx::query_as(
        "SELECT id, product_id, kind, names, merchant_id, uses FROM product_benefits
         WHERE product_id = ANY($1) ORDER BY product_id, position",
    )
    .bind(products)
    .fetch_all(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    town: kernel::TownId,
    b: &BenefitRow,
    position: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO product_benefits (id, town_id, product_id, kind, names, merchant_id, uses, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(b.id)
    .bind(town.as_uuid())
    .bind(b.product_id)
    .bind(&b.kind)
    .bind(&b.names)
    .bind(b.merchant_id)
    .bind(b.uses)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many times each benefit has been used on this card.
pub async fn uses_for_card(conn: &mut PgConnection, card: Uuid) -> sqlx::Result<Vec<(Uuid, i64)>> {
    sqlx::query_as(
        "SELECT benefit_id, count(*) FROM benefit_uses WHERE card_id = $1 GROUP BY benefit_id",
    )
    .bind(card)
    .fetch_all(conn)
    .await
}

/// Records one use; the unique (card, benefit, use_no) makes a double use a conflict.
pub async fn record_use(
    conn: &mut PgConnection,
    town: kernel::TownId,
    card: Uuid,
    benefit: Uuid,
    use_no: i32,
    merchant: Option<Uuid>,
    actor: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO benefit_uses (id, town_id, card_id, benefit_id, use_no, merchant_id, actor_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(town.as_uuid())
    .bind(card)
    .bind(benefit)
    .bind(use_no)
    .bind(merchant)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}
