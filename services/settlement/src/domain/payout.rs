//! Payout: the bank paid the merchants; clear their receivables in the ledger.

use chrono::NaiveDate;
use kernel::TownId;
use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
use platform::ApiError;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::periods;
use crate::domain::statement;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PayoutLine {
    pub merchant_id: Uuid,
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub journal_tx: Uuid,
}

/// Marks the closed period paid and posts one `payout` transaction per merchant
/// owed money: `merchant_receivable −X`, `payouts +X`.
pub async fn pay(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    bank_reference: &str,
) -> Result<Vec<PayoutLine>, ApiError> {
    let period = periods::lock(conn, month)
        .await?
        .ok_or_else(|| ApiError::not_found("period_not_found", "no such period"))?;
    match period.status.as_str() {
        "closed" => {}
        "paid" => {
            return Err(ApiError::conflict(
                "period_already_paid",
                "the period is already paid",
            ));
        }
        _ => {
            return Err(ApiError::conflict(
                "period_open",
                "close the period before paying it",
            ));
        }
    }
    let summary = statement::summary(conn, town, &period).await?;
    let payouts = ledger::ensure_account(
        conn,
        &NewAccount {
            town,
            kind: AccountKind::Payouts,
            owner: None,
            name: "Payouts".into(),
        },
    )
    .await
    .map_err(ApiError::internal)?;
    let mut lines = Vec::new();
    let label = crate::domain::month::label(month);
    for m in summary
        .merchants
        .iter()
        .filter(|m| m.amounts.municipality > Decimal::ZERO)
    {
        let receivable = ledger::find_account(
            conn,
            town,
            AccountKind::MerchantReceivable,
            Some(m.merchant_id),
        )
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_receivable",
                format!("merchant {} has no receivable account", m.merchant_id),
            )
        })?;
        let x = m.amounts.municipality;
        let posted = ledger::post(
            conn,
            &Posting {
                town,
                idempotency_key: format!("payout:{label}:{}", m.merchant_id),
                kind: PostingKind::Payout,
                memo: format!("payout {label} ref {bank_reference}"),
                reverses: None,
                entries: vec![
                    Entry {
                        account: receivable,
                        amount: -x,
                    },
                    Entry {
                        account: payouts,
                        amount: x,
                    },
                ],
            },
        )
        .await
        .map_err(ApiError::internal)?;
        sqlx::query(
            "INSERT INTO settlement_payouts (town_id, month, merchant_id, amount, bank_reference, journal_tx)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(town.as_uuid())
        .bind(month)
        .bind(m.merchant_id)
        .bind(x)
        .bind(bank_reference)
        .bind(posted.id.as_uuid())
        .execute(&mut *conn)
        .await?;
        lines.push(PayoutLine {
            merchant_id: m.merchant_id,
            amount: x,
            journal_tx: posted.id.as_uuid(),
        });
    }
    periods::mark_paid(conn, month, bank_reference).await?;
    Ok(lines)
}
