//! Claims, confirmations, and the per-receipt comparison.

use chrono::NaiveDate;
use kernel::TownId;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::reconcile::ClaimLine;

pub async fn confirm(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    merchant: Uuid,
    by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO statement_confirmations (town_id, month, merchant_id, confirmed_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (town_id, month, merchant_id) DO UPDATE SET confirmed_by = $4, confirmed_at = now()",
    )
    .bind(town.as_uuid())
    .bind(month)
    .bind(merchant)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn save_claim(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    merchant: Uuid,
    by: Option<Uuid>,
    lines: &[ClaimLine],
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO merchant_claims (id, town_id, month, merchant_id, uploaded_by, lines) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(town.as_uuid())
    .bind(month)
    .bind(merchant)
    .bind(by)
    .bind(lines.len() as i32)
    .execute(&mut *conn)
    .await?;
    let receipts: Vec<&str> = lines.iter().map(|l| l.receipt_number.as_str()).collect();
    let baskets: Vec<Decimal> = lines.iter().map(|l| l.basket).collect();
    let discounts: Vec<Decimal> = lines.iter().map(|l| l.discount).collect();
    sqlx::query(
        "INSERT INTO merchant_claim_lines (claim_id, town_id, receipt_number, basket, discount)
         SELECT $1, $2, r, b, d FROM UNNEST($3::text[], $4::numeric[], $5::numeric[]) AS u(r, b, d)",
    )
    .bind(id)
    .bind(town.as_uuid())
    .bind(&receipts)
    .bind(&baskets)
    .bind(&discounts)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ReconciliationItem {
    pub receipt_number: String,
    /// `matched`, `missing_in_claim`, `missing_in_statement` or `differs`.
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub our_basket: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub our_discount: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub their_basket: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub their_discount: Option<Decimal>,
    /// The town admin's decision: `accept`, `reject` or `adjust`.
    pub decision: Option<String>,
    #[schema(value_type = Option<String>)]
    pub decision_amount: Option<Decimal>,
    pub decision_note: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    pub merchant_id: Uuid,
    pub confirmed: bool,
    pub claim_id: Option<Uuid>,
    pub items: Vec<ReconciliationItem>,
}

/// Compares the period's redemptions of `merchant` with its newest claim, per receipt.
pub async fn compare(
    conn: &mut PgConnection,
    month: NaiveDate,
    merchant: Uuid,
) -> sqlx::Result<Reconciliation> {
    let confirmed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM statement_confirmations WHERE month = $1 AND merchant_id = $2)",
    )
    .bind(month)
    .bind(merchant)
    .fetch_one(&mut *conn)
    .await?;
    let claim_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM merchant_claims WHERE month = $1 AND merchant_id = $2 ORDER BY uploaded_at DESC, id DESC LIMIT 1",
    )
    .bind(month)
    .bind(merchant)
    .fetch_optional(&mut *conn)
    .await?;
    let items = match claim_id {
        None => Vec::new(),
        Some(claim) => {
            sqlx::query_as::<_, ReconciliationItem>(
                "WITH ours AS (SELECT receipt_number, basket, discount FROM redemptions
                               WHERE period = $1 AND merchant_id = $2),
                      theirs AS (SELECT receipt_number, basket, discount FROM merchant_claim_lines WHERE claim_id = $3)
                 SELECT coalesce(o.receipt_number, t.receipt_number) AS receipt_number,
                        CASE WHEN t.receipt_number IS NULL THEN 'missing_in_claim'
                             WHEN o.receipt_number IS NULL THEN 'missing_in_statement'
                             WHEN o.basket = t.basket AND o.discount = t.discount THEN 'matched'
                             ELSE 'differs' END AS status,
                        o.basket AS our_basket, o.discount AS our_discount,
                        t.basket AS their_basket, t.discount AS their_discount,
                        d.decision, d.amount AS decision_amount, d.note AS decision_note
                 FROM ours o FULL JOIN theirs t ON t.receipt_number = o.receipt_number
                 LEFT JOIN reconciliation_decisions d ON d.month = $1 AND d.merchant_id = $2
                      AND d.receipt_number = coalesce(o.receipt_number, t.receipt_number)
                 ORDER BY 1",
            )
            .bind(month)
            .bind(merchant)
            .bind(claim)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    Ok(Reconciliation {
        merchant_id: merchant,
        confirmed,
        claim_id,
        items,
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn decide(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    merchant: Uuid,
    receipt: &str,
    decision: &str,
    amount: Option<Decimal>,
    note: &str,
    by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reconciliation_decisions (town_id, month, merchant_id, receipt_number, decision, amount, note, decided_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (town_id, month, merchant_id, receipt_number)
         DO UPDATE SET decision = $5, amount = $6, note = $7, decided_by = $8, decided_at = now()",
    )
    .bind(town.as_uuid())
    .bind(month)
    .bind(merchant)
    .bind(receipt)
    .bind(decision)
    .bind(amount)
    .bind(note)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
