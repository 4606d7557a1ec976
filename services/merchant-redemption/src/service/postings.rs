//! The ledger postings of merchant-redemption (docs/ledger.md): a promotion's
//! co-financing budget funded, and a redemption's discount, split between the
//! promotion's budget and the merchant, and the card's points.

use kernel::{Money, TownId, TransactionId};
use ledger::{AccountKind, Entry, LedgerError, NewAccount, Posting, PostingKind};
use platform::{ApiError, ApiResult};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::redeem::refusal;
use crate::domain::rules::{self, Quote};
use crate::state::App;

fn budget_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::InsufficientBalance(_) => ApiError::conflict(
            "budget_exhausted",
            "the promotion's co-financing budget is used up",
        ),
        other => other.into(),
    }
}

/// Moves `amount` from the municipality's funding into the promotion's budget (the
/// budget funding posting of docs/ledger.md), opening either account if needed.
pub async fn fund_budget(
    conn: &mut PgConnection,
    town: TownId,
    promotion: Uuid,
    amount: Money,
    key: &str,
) -> Result<TransactionId, LedgerError> {
    let open = |kind: AccountKind, owner: Option<Uuid>| NewAccount {
        town,
        kind,
        owner,
        name: format!("{} {}", kind.as_str(), owner.unwrap_or_default()),
    };
    let funding =
        ledger::ensure_account(conn, &open(AccountKind::MunicipalityFunding, None)).await?;
    let budget =
        ledger::ensure_account(conn, &open(AccountKind::PromotionBudget, Some(promotion))).await?;
    let a = amount.amount();
    let posted = ledger::post(
        conn,
        &Posting {
            town,
            idempotency_key: key.to_owned(),
            kind: PostingKind::BudgetFunding,
            memo: "promotion budget".into(),
            reverses: None,
            entries: vec![
                Entry {
                    account: funding,
                    amount: -a,
                },
                Entry {
                    account: budget,
                    amount: a,
                },
            ],
        },
    )
    .await?;
    Ok(posted.id)
}

/// The entries of a redemption's posting (docs/ledger.md), as (account kind, owner,
/// amount): the municipality's share from the promotion's budget to the merchant's
/// receivable, the merchant's own share as a discount granted.
pub fn discount_entries(
    q: &Quote,
    promotion: Uuid,
    merchant: Uuid,
) -> Vec<(AccountKind, Option<Uuid>, Decimal)> {
    let (m, s) = (q.municipality.amount(), q.merchant.amount());
    let mut out = Vec::with_capacity(4);
    if !m.is_zero() {
        out.push((AccountKind::PromotionBudget, Some(promotion), -m));
        out.push((AccountKind::MerchantReceivable, Some(merchant), m));
    }
    if !s.is_zero() {
        out.push((AccountKind::MerchantOwnDiscount, Some(merchant), s));
        out.push((AccountKind::DiscountsGranted, None, -s));
    }
    out
}

/// The redemption posting of docs/ledger.md; None when the discount is zero.
pub async fn post_discount(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    merchant: Uuid,
    promotion: Uuid,
    key: &str,
    q: &Quote,
) -> ApiResult<Option<TransactionId>> {
    if q.discount.is_zero() {
        return Ok(None);
    }
    let mut entries = Vec::with_capacity(4);
    for (kind, owner, amount) in discount_entries(q, promotion, merchant) {
        let account = app.account(conn, town, kind, owner).await?;
        entries.push(Entry { account, amount });
    }
    let posted = ledger::post_owned_key(
        conn,
        &Posting {
            town,
            idempotency_key: format!("redemption:{key}"),
            kind: PostingKind::Redemption,
            memo: String::new(),
            reverses: None,
            entries,
        },
    )
    .await
    .map_err(budget_error)?;
    Ok(Some(posted.id))
}

/// Points earned or spent (net), in PTS; None when there are none.
pub async fn post_points(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    card: Uuid,
    key: &str,
    q: &Quote,
) -> ApiResult<Option<TransactionId>> {
    let net = i64::from(q.points_earned) - i64::from(q.points_spent);
    if net == 0 {
        return Ok(None);
    }
    let points = app
        .account(conn, town, AccountKind::CardPoints, Some(card))
        .await?;
    let issued = app
        .account(conn, town, AccountKind::PointsIssued, None)
        .await?;
    let p = Decimal::from(net);
    let kind = if net > 0 {
        PostingKind::PointsEarn
    } else {
        PostingKind::PointsSpend
    };
    let posted = ledger::post_owned_key(
        conn,
        &Posting {
            town,
            idempotency_key: format!("redemption-points:{key}"),
            kind,
            memo: String::new(),
            reverses: None,
            entries: vec![
                Entry {
                    account: points,
                    amount: p,
                },
                Entry {
                    account: issued,
                    amount: -p,
                },
            ],
        },
    )
    .await
    .map_err(|e| match e {
        LedgerError::InsufficientBalance(_) => refusal(rules::Refusal::PointsInsufficient),
        other => other.into(),
    })?;
    Ok(Some(posted.id))
}
