use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::limits::{Bump, Counters, Keys};

/// Current counters of one card/merchant/day for these promotions.
pub async fn read(
    conn: &mut PgConnection,
    promotions: &[Uuid],
    k: &Keys,
) -> Result<std::collections::HashMap<Uuid, Counters>, sqlx::Error> {
    // One primary-key lookup per (promotion, scope, key); see the migration.
    let (scopes, keys): (Vec<&str>, Vec<&str>) = k.all().into_iter().unzip();
    let rows: Vec<(Uuid, String, Decimal)> =
        sqlx::query_as("SELECT promotion_id, scope, used FROM redemption_counters_of($1, $2, $3)")
            .bind(promotions)
            .bind(&scopes)
            .bind(&keys)
            .fetch_all(conn)
            .await?;
    let mut out: std::collections::HashMap<Uuid, Counters> = Default::default();
    for (p, scope, used) in rows {
        out.entry(p).or_default().set(&scope, used);
    }
    Ok(out)
}

/// Raises one counter if it stays within its limit; returns the new value, or
/// None when the limit is reached. Exact under concurrency: the row lock orders
/// concurrent raisers and each sees the committed value.
pub async fn raise(
    conn: &mut PgConnection,
    town: Uuid,
    promotion: Uuid,
    b: &Bump,
) -> Result<Option<Decimal>, sqlx::Error> {
    if b.by > b.limit {
        return Ok(None);
    }
    sqlx::query_scalar(
        "INSERT INTO redemption_counters (town_id, promotion_id, scope, key, used)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (promotion_id, scope, key) DO UPDATE
             SET used = redemption_counters.used + EXCLUDED.used
             WHERE redemption_counters.used + EXCLUDED.used <= $6
         RETURNING used",
    )
    .bind(town)
    .bind(promotion)
    .bind(&b.scope)
    .bind(&b.key)
    .bind(b.by)
    .bind(b.limit)
    .fetch_optional(conn)
    .await
}

/// Gives back `by` of a counter (a void, or a refund's share of a budget).
pub async fn lower(
    conn: &mut PgConnection,
    promotion: Uuid,
    scope: &str,
    key: &str,
    by: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE redemption_counters SET used = greatest(used - $4, 0)
         WHERE promotion_id = $1 AND scope = $2 AND key = $3",
    )
    .bind(promotion)
    .bind(scope)
    .bind(key)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}
