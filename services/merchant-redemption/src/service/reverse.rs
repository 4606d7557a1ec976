//! Void (a mistake, within the window) and partial refund (the discount reversed in
//! proportion): each a reversing ledger transaction and a `redemption_reversals` row.

use chrono::{DateTime, Utc};
use kernel::{Money, TransactionId};
use ledger::{Entry, Posting, PostingKind};
use platform::{ApiError, ApiResult};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::actor::Actor;
use crate::db::counters;
use crate::db::redemptions::{self, NewReversal, RedemptionRow};
use crate::domain::limits::Bump;
use crate::domain::pricing::{self, Original, Reversal};

pub enum Kind {
    Void,
    Refund(Money),
}

/// Locks the redemption for this merchant; answers a replayed key with `Ok(None)`.
async fn prepare(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    key: &str,
    kind: &str,
) -> ApiResult<Option<RedemptionRow>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 43))")
        .bind(format!("{}:{key}", actor.town))
        .execute(&mut *conn)
        .await?;
    if let Some((rid, k)) = redemptions::reversal_by_key(conn, key).await? {
        if rid == id && k == kind {
            return Ok(None);
        }
        return Err(ApiError::conflict(
            "idempotency_conflict",
            "this Idempotency-Key was already used for a different reversal",
        ));
    }
    let not_found = || ApiError::not_found("redemption_not_found", "no such redemption");
    if !redemptions::lock(conn, id).await? {
        return Err(not_found());
    }
    let row = redemptions::by_id(conn, id).await?.ok_or_else(not_found)?;
    if row.merchant_id != actor.merchant.as_uuid() {
        return Err(ApiError::forbidden(
            "forbidden_merchant",
            "this belongs to another merchant",
        ));
    }
    Ok(Some(row))
}

pub struct Request<'a> {
    pub id: Uuid,
    pub key: &'a str,
    pub kind: Kind,
    pub reason: &'a str,
    pub void_window_secs: i64,
}

pub async fn reverse(
    conn: &mut PgConnection,
    actor: &Actor,
    req: Request<'_>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Request {
        id,
        key,
        kind,
        reason,
        void_window_secs,
    } = req;
    let kind_str = match kind {
        Kind::Void => "void",
        Kind::Refund(_) => "refund",
    };
    let Some(row) = prepare(conn, actor, id, key, kind_str).await? else {
        return Ok(());
    };
    let (done_basket, done_m, done_s) = redemptions::reversed(conn, id).await?;
    let money = |d: Decimal| Money::try_from_decimal(d).map_err(ApiError::internal);
    let orig = Original {
        basket: money(row.basket)?,
        municipality: money(row.municipality_share)?,
        merchant: money(row.merchant_share)?,
        points: row.points_earned - row.points_spent,
    };
    let (refunded, rev, status) = match kind {
        Kind::Void => {
            if row.status != "redeemed" {
                return Err(ApiError::conflict(
                    "already_reversed",
                    "this redemption was already voided or refunded",
                ));
            }
            if (now - row.recorded_at).num_seconds() > void_window_secs {
                return Err(ApiError::conflict(
                    "void_window_passed",
                    "too late to void; make a refund instead",
                ));
            }
            let all = Reversal {
                municipality: orig.municipality,
                merchant: orig.merchant,
                points: orig.points,
            };
            (orig.basket, all, "voided")
        }
        Kind::Refund(amount) => {
            if !matches!(row.status.as_str(), "redeemed" | "partially_refunded") {
                return Err(ApiError::conflict(
                    "already_reversed",
                    "this redemption was voided or fully refunded",
                ));
            }
            let left_basket = row.basket - done_basket;
            if amount.amount() > left_basket {
                return Err(ApiError::unprocessable(
                    "refund_too_large",
                    format!("at most {left_basket} can be refunded"),
                ));
            }
            let left = Reversal {
                municipality: money(row.municipality_share - done_m)?,
                merchant: money(row.merchant_share - done_s)?,
                points: orig.points,
            };
            let mut rev = pricing::refund(&orig, &left, amount);
            rev.points = cumulative_points(&orig, done_basket + amount.amount())
                - cumulative_points(&orig, done_basket);
            let status = if amount.amount() == left_basket {
                "refunded"
            } else {
                "partially_refunded"
            };
            (amount, rev, status)
        }
    };
    let posting_kind = if matches!(kind, Kind::Void) {
        PostingKind::Void
    } else {
        PostingKind::Refund
    };
    let eur_tx = if row.discount.is_zero() {
        None
    } else {
        Some(TransactionId::from_uuid(row.journal_tx))
    };
    let town = actor.town;
    let mut journal = None;
    if let Some(tx) = eur_tx.filter(|_| !rev.discount().is_zero()) {
        let orig_entries = ledger::transaction_entries(conn, town, tx).await?;
        let has_m = !orig.municipality.is_zero();
        let entries = orig_entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let share = if has_m && i < 2 {
                    rev.municipality
                } else {
                    rev.merchant
                };
                let sign = if e.amount.is_sign_negative() {
                    Decimal::ONE
                } else {
                    Decimal::NEGATIVE_ONE
                };
                Entry {
                    account: e.account,
                    amount: share.amount() * sign,
                }
            })
            .filter(|e| !e.amount.is_zero())
            .collect();
        let posted = ledger::post(
            conn,
            &Posting {
                town,
                idempotency_key: format!("{kind_str}:{key}"),
                kind: posting_kind,
                memo: reason.to_owned(),
                reverses: Some(tx),
                entries,
            },
        )
        .await?;
        journal = Some(posted.id);
    }
    let mut points_tx = None;
    if let (Some(ptx), true) = (row.points_tx, rev.points != 0) {
        let ptx = TransactionId::from_uuid(ptx);
        let orig_entries = ledger::transaction_entries(conn, town, ptx).await?;
        let entries = orig_entries
            .iter()
            .map(|e| Entry {
                account: e.account,
                amount: if e.amount.is_sign_negative() {
                    Decimal::from(rev.points.abs())
                } else {
                    -Decimal::from(rev.points.abs())
                },
            })
            .collect();
        let posted = ledger::post(
            conn,
            &Posting {
                town,
                idempotency_key: format!("{kind_str}-points:{key}"),
                kind: posting_kind,
                memo: reason.to_owned(),
                reverses: Some(ptx),
                entries,
            },
        )
        .await
        .map_err(|e| match e {
            ledger::LedgerError::InsufficientBalance(_) => ApiError::conflict(
                "points_already_spent",
                "the card has already spent the points this would take back",
            ),
            other => other.into(),
        })?;
        points_tx = Some(posted.id);
    }
    let journal_tx = journal.or(points_tx).ok_or_else(|| {
        ApiError::unprocessable("refund_too_small", "this refund reverses nothing")
    })?;
    release_counters(conn, &row, &kind, &rev).await?;
    redemptions::insert_reversal(
        conn,
        &NewReversal {
            id: Uuid::now_v7(),
            town: town.as_uuid(),
            redemption: id,
            kind: kind_str,
            key,
            basket: refunded.amount(),
            municipality: rev.municipality.amount(),
            merchant_share: rev.merchant.amount(),
            reason,
            staff: actor.staff,
            journal_tx: journal_tx.as_uuid(),
            points_tx: points_tx.map(|t| t.as_uuid()),
        },
    )
    .await?;
    redemptions::set_status(conn, id, status).await?;
    Ok(())
}

fn cumulative_points(orig: &Original, refunded: Decimal) -> i32 {
    if orig.basket.is_zero() {
        return 0;
    }
    (Decimal::from(orig.points) * refunded / orig.basket.amount())
        .round()
        .to_i32()
        .unwrap_or(0)
}

/// A void gives the card its use back and the budgets their share; a refund only
/// gives the budgets back what it reversed.
async fn release_counters(
    conn: &mut PgConnection,
    row: &RedemptionRow,
    kind: &Kind,
    rev: &Reversal,
) -> ApiResult<()> {
    let bumps: Vec<Bump> = serde_json::from_value(row.counters.clone()).unwrap_or_default();
    let budget_back = if row.municipality_share.is_zero() {
        rev.discount()
    } else {
        rev.municipality
    };
    for b in bumps {
        let by = match (kind, b.is_count()) {
            (Kind::Void, true) => b.by,
            (Kind::Refund(_), true) => continue,
            (_, false) => budget_back.amount(),
        };
        if !by.is_zero() {
            counters::lower(conn, row.promotion_id, &b.scope, &b.key, by).await?;
        }
    }
    Ok(())
}
