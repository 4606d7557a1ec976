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

/// The counters at (promotion, scope, key) for several scans at once, each triple
/// tagged with its scan's index; only those that exist come back.
pub async fn read_many(
    conn: &mut PgConnection,
    scan: &[i32],
    promotions: &[Uuid],
    scopes: &[&str],
    keys: &[&str],
) -> Result<Vec<(i32, Uuid, String, Decimal)>, sqlx::Error> {
    // LATERAL … LIMIT 1: one primary-key lookup per triple, whatever the statistics.
    sqlx::query_as(
        "SELECT u.i, u.p, u.s, c.used
         FROM unnest($1::int4[], $2::uuid[], $3::text[], $4::text[]) AS u(i, p, s, k)
         CROSS JOIN LATERAL (
             SELECT rc.used FROM redemption_counters rc
             WHERE rc.promotion_id = u.p AND rc.scope = u.s AND rc.key = u.k
             LIMIT 1) c",
    )
    .bind(scan)
    .bind(promotions)
    .bind(scopes)
    .bind(keys)
    .fetch_all(conn)
    .await
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
