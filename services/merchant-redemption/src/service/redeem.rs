//! Redeem: re-check everything in one transaction, raise the limit counters, post
//! the ledger transaction(s) and record the redemption. Any refusal rolls it all
//! back, so a refused redemption leaves nothing behind.

use chrono::{DateTime, Utc};
use kernel::{Money, TownId, TransactionId};
use ledger::{AccountKind, Entry, LedgerError, Posting, PostingKind};
use platform::{ApiError, ApiResult, Context};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::card::{self, CardRef};
use crate::actor::Actor;
use crate::db::{counters, devices, promotions, redemptions};
use crate::domain::limits::{self, Bump, Counters};
use crate::domain::rules::{self, Quote};
use crate::state::App;

pub struct Request<'a> {
    pub key: &'a str,
    pub card: CardRef<'a>,
    pub promotion: Uuid,
    pub basket: Money,
}

impl Request<'_> {
    /// The fingerprint a replay must match (same key, same body).
    pub fn hash(&self, actor: &Actor) -> Vec<u8> {
        let card = match self.card {
            CardRef::Token(t) => format!("t:{}", t.trim()),
            CardRef::Number(n) => format!("n:{}", n.trim()),
        };
        let text = format!(
            "{}|{}|{}|{}",
            actor.merchant, self.promotion, self.basket, card
        );
        Sha256::digest(text.as_bytes()).to_vec()
    }
}

pub enum Outcome {
    Done(Uuid),
    Replayed(Uuid),
}

/// Takes the per-key lock and answers a replay; None means "go ahead".
pub async fn replay(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &str,
    hash: &[u8],
) -> ApiResult<Option<Uuid>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 42))")
        .bind(format!("{}:{key}", actor.town))
        .execute(&mut *conn)
        .await?;
    match redemptions::by_key(conn, key).await? {
        None => Ok(None),
        Some(r)
            if r.request_hash.as_deref() == Some(hash)
                && r.merchant_id == actor.merchant.as_uuid() =>
        {
            Ok(Some(r.id))
        }
        Some(_) => Err(ApiError::conflict(
            "idempotency_conflict",
            "this Idempotency-Key was already used for a different redemption",
        )),
    }
}

pub async fn redeem(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Outcome> {
    let hash = req.hash(actor);
    if let Some(id) = replay(conn, actor, req.key, &hash).await? {
        return Ok(Outcome::Replayed(id));
    }
    if let Some(device) = actor.device
        && !devices::is_active(conn, device).await?
    {
        return Err(ApiError::unauthorized(
            "device_revoked",
            "this tablet has been revoked",
        ));
    }
    let town = actor.town;
    let info = card::town_info(app, conn, town, false).await?;
    let card_row = card::resolve(app, ctx, conn, town, req.card, false, now).await?;
    let promo = promotions::offer(conn, actor.merchant.as_uuid(), req.promotion)
        .await?
        .and_then(|p| p.to_domain())
        .ok_or_else(|| {
            ApiError::not_found("offer_not_found", "this shop does not give that promotion")
        })?;
    let points = if promo.rules.points_cost.is_some() {
        card::points(conn, town, card_row.id).await?
    } else {
        0
    };
    let domain_card = rules::Card {
        id: card_row.id,
        product_code: card_row.product_code.clone(),
        points,
    };
    let quote = rules::evaluate(
        &promo,
        &domain_card,
        req.basket,
        &Counters::default(),
        info.tz,
        now,
    )
    .map_err(refusal)?;
    let day = now.with_timezone(&info.tz).date_naive();
    let keys = limits::keys(card_row.id, actor.merchant.as_uuid(), day);
    let bumps = limits::bumps(&promo.rules, &quote, &keys);
    for b in &bumps {
        if counters::raise(conn, town.as_uuid(), promo.id, b)
            .await?
            .is_none()
        {
            return Err(refusal(b.refusal()));
        }
    }
    let journal_tx = post_discount(
        app,
        conn,
        town,
        actor.merchant.as_uuid(),
        promo.id,
        req.key,
        &quote,
    )
    .await?;
    let points_tx = post_points(app, conn, town, card_row.id, req.key, &quote).await?;
    let journal_tx = journal_tx
        .or(points_tx)
        .ok_or_else(|| refusal(rules::Refusal::NothingToGive))?;
    let id = Uuid::now_v7();
    redemptions::insert(
        conn,
        &redemptions::NewRedemption {
            id,
            town: town.as_uuid(),
            merchant: actor.merchant.as_uuid(),
            promotion: promo.id,
            card: card_row.id,
            device: actor.device,
            staff: actor.staff,
            town_code: info.code,
            key: req.key,
            request_hash: &hash,
            basket: req.basket.amount(),
            discount: quote.discount.amount(),
            municipality: quote.municipality.amount(),
            merchant_share: quote.merchant.amount(),
            points_earned: quote.points_earned,
            points_spent: quote.points_spent,
            occurred_at: now,
            journal_tx: journal_tx.as_uuid(),
            points_tx: points_tx.map(|t| t.as_uuid()),
            counters: serde_json::to_value(&bumps).map_err(ApiError::internal)?,
        },
    )
    .await?;
    Ok(Outcome::Done(id))
}

pub fn refusal(r: rules::Refusal) -> ApiError {
    ApiError::conflict(r.code(), r.message())
}

fn budget_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::InsufficientBalance(_) => ApiError::conflict(
            "budget_exhausted",
            "the promotion's co-financing budget is used up",
        ),
        other => other.into(),
    }
}

/// The redemption posting of docs/ledger.md; None when the discount is zero.
async fn post_discount(
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
    let (m, s) = (q.municipality.amount(), q.merchant.amount());
    if !m.is_zero() {
        let budget = app
            .account(conn, town, AccountKind::PromotionBudget, Some(promotion))
            .await?;
        let receivable = app
            .account(conn, town, AccountKind::MerchantReceivable, Some(merchant))
            .await?;
        entries.push(Entry {
            account: budget,
            amount: -m,
        });
        entries.push(Entry {
            account: receivable,
            amount: m,
        });
    }
    if !s.is_zero() {
        let own = app
            .account(conn, town, AccountKind::MerchantOwnDiscount, Some(merchant))
            .await?;
        let granted = app
            .account(conn, town, AccountKind::DiscountsGranted, None)
            .await?;
        entries.push(Entry {
            account: own,
            amount: s,
        });
        entries.push(Entry {
            account: granted,
            amount: -s,
        });
    }
    let posted = ledger::post(
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
async fn post_points(
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
    let posted = ledger::post(
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

/// What is left of the card's per-card limits for this promotion (None = unlimited).
pub fn limits_left(bumps: &[Bump], current: &Counters) -> serde_json::Value {
    let left = |scope: &str, used: i64| {
        bumps
            .iter()
            .find(|b| b.scope == scope)
            .map(|b| (b.limit - Decimal::from(used)).max(Decimal::ZERO))
    };
    serde_json::json!({
        "per_day": left("card_day", current.card_day),
        "per_merchant": left("card_merchant", current.card_merchant),
        "per_promotion": left("card_promotion", current.card_promotion),
    })
}
