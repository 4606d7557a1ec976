//! A reconciliation `adjust` decision moves money: the receipt's discount becomes the
//! agreed one, split by its promotion's co-financing percent, and the difference to
//! what was booked (net of voids and refunds) is posted as one `adjustment`
//! transaction in the first open period from the reconciled month on:
//! `promotion_budget −ΔM`, `merchant_receivable +ΔM`, `merchant_own_discount +ΔS`,
//! `discounts_granted −ΔS` (docs/ledger.md). Once posted, it is final.

use chrono::NaiveDate;
use kernel::{AccountId, Money, Percent, TownId, TransactionId};
use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
use platform::ApiError;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::month;

/// The redemption a receipt of the period stands for, with what is booked for it.
#[derive(Debug, sqlx::FromRow)]
struct Booked {
    id: Uuid,
    promotion_id: Uuid,
    journal_tx: Uuid,
    percent: Decimal,
    municipality: Decimal,
    merchant_share: Decimal,
}

/// An adjustment already posted for the receipt.
#[derive(Debug, sqlx::FromRow)]
struct Posted {
    agreed_discount: Decimal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Adjusted {
    /// The period it was booked into.
    pub period: NaiveDate,
    pub municipality: Decimal,
    pub merchant_share: Decimal,
    pub journal_tx: Uuid,
}

pub struct Request<'a> {
    pub town: TownId,
    pub month: NaiveDate,
    pub merchant: Uuid,
    pub receipt: &'a str,
    pub agreed_discount: Money,
    pub note: &'a str,
    pub by: Option<Uuid>,
}

/// The adjustment already posted for this receipt, if any: a second decision may
/// only repeat it (a replay), never change it.
pub async fn check_final(
    conn: &mut PgConnection,
    month: NaiveDate,
    merchant: Uuid,
    receipt: &str,
    agreed: Option<Decimal>,
) -> Result<bool, ApiError> {
    let posted: Option<Posted> = sqlx::query_as(
        "SELECT agreed_discount FROM settlement_adjustments
         WHERE month = $1 AND merchant_id = $2 AND receipt_number = $3",
    )
    .bind(month)
    .bind(merchant)
    .bind(receipt)
    .fetch_optional(&mut *conn)
    .await?;
    match posted {
        None => Ok(false),
        Some(p) if Some(p.agreed_discount) == agreed => Ok(true),
        Some(p) => Err(ApiError::conflict(
            "adjustment_already_posted",
            format!(
                "this receipt was already adjusted to a discount of {}; that correction is final",
                p.agreed_discount
            ),
        )),
    }
}

/// Posts the correction for `r` (nothing when the agreed discount is what is booked).
pub async fn post(conn: &mut PgConnection, r: &Request<'_>) -> Result<Option<Adjusted>, ApiError> {
    let booked: Booked = sqlx::query_as(
        "SELECT x.id, x.promotion_id, x.journal_tx, p.co_financing_percent AS percent,
                x.municipality_share - coalesce(v.m, 0) AS municipality,
                x.merchant_share - coalesce(v.s, 0) AS merchant_share
         FROM redemptions x JOIN promotions p ON p.id = x.promotion_id
         LEFT JOIN LATERAL (SELECT sum(municipality_reversed) AS m, sum(merchant_reversed) AS s
                            FROM redemption_reversals WHERE redemption_id = x.id) v ON true
         WHERE x.period = $1 AND x.merchant_id = $2 AND x.receipt_number = $3",
    )
    .bind(r.month)
    .bind(r.merchant)
    .bind(r.receipt)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        ApiError::unprocessable(
            "no_redemption_to_adjust",
            "this receipt has no redemption in the statement: accept or reject it",
        )
    })?;
    let percent = Percent::try_from_decimal(booked.percent).map_err(ApiError::internal)?;
    let (m, s) = r.agreed_discount.split(percent);
    let dm = m.amount() - booked.municipality;
    let ds = s.amount() - booked.merchant_share;
    if dm.is_zero() && ds.is_zero() {
        return Ok(None);
    }
    // The first open period from the reconciled month on; the share lock on its row
    // makes a concurrent close wait for this booking.
    let period: NaiveDate = sqlx::query_scalar(
        "SELECT booking_period($1, ($2::date)::timestamp AT TIME ZONE t.timezone)
         FROM towns t WHERE t.id = $1",
    )
    .bind(r.town.as_uuid())
    .bind(r.month)
    .fetch_one(&mut *conn)
    .await?;

    let mut entries = Vec::with_capacity(4);
    if !dm.is_zero() {
        let budget = account(
            conn,
            r.town,
            AccountKind::PromotionBudget,
            Some(booked.promotion_id),
        )
        .await?;
        let receivable = account(
            conn,
            r.town,
            AccountKind::MerchantReceivable,
            Some(r.merchant),
        )
        .await?;
        entries.push(Entry {
            account: budget,
            amount: -dm,
        });
        entries.push(Entry {
            account: receivable,
            amount: dm,
        });
    }
    if !ds.is_zero() {
        let own = account(
            conn,
            r.town,
            AccountKind::MerchantOwnDiscount,
            Some(r.merchant),
        )
        .await?;
        let granted = account(conn, r.town, AccountKind::DiscountsGranted, None).await?;
        entries.push(Entry {
            account: own,
            amount: ds,
        });
        entries.push(Entry {
            account: granted,
            amount: -ds,
        });
    }
    let label = month::label(r.month);
    let booked_discount = booked.municipality + booked.merchant_share;
    let mut memo = format!(
        "reconciliation {label}, receipt {} (redemption {}): discount {booked_discount} → {}",
        r.receipt,
        booked.id,
        r.agreed_discount.amount()
    );
    if !r.note.is_empty() {
        memo.push_str("; ");
        memo.push_str(r.note);
    }
    let posted = ledger::post(
        conn,
        &Posting {
            town: r.town,
            idempotency_key: format!("reconcile:{label}:{}:{}", r.merchant, r.receipt),
            kind: PostingKind::Adjustment,
            memo,
            reverses: Some(TransactionId::from_uuid(booked.journal_tx)),
            entries,
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO settlement_adjustments (id, town_id, month, merchant_id, receipt_number, redemption_id,
             promotion_id, period, agreed_discount, municipality, merchant_share, decided_by, journal_tx)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT ON CONSTRAINT settlement_adjustments_once DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(r.town.as_uuid())
    .bind(r.month)
    .bind(r.merchant)
    .bind(r.receipt)
    .bind(booked.id)
    .bind(booked.promotion_id)
    .bind(period)
    .bind(r.agreed_discount.amount())
    .bind(dm)
    .bind(ds)
    .bind(r.by)
    .bind(posted.id.as_uuid())
    .execute(&mut *conn)
    .await?;
    Ok(Some(Adjusted {
        period,
        municipality: dm,
        merchant_share: ds,
        journal_tx: posted.id.as_uuid(),
    }))
}

async fn account(
    conn: &mut PgConnection,
    town: TownId,
    kind: AccountKind,
    owner: Option<Uuid>,
) -> Result<AccountId, ApiError> {
    let name = match kind {
        AccountKind::DiscountsGranted => "Discounts granted".to_owned(),
        k => format!(
            "{} {}",
            k.as_str(),
            owner.map(|o| o.to_string()).unwrap_or_default()
        ),
    };
    Ok(ledger::ensure_account(
        conn,
        &NewAccount {
            town,
            kind,
            owner,
            name,
        },
    )
    .await?)
}
