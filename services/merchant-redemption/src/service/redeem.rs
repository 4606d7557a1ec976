//! Redeem: re-check everything in one transaction, raise the limit counters, post
//! the ledger transaction(s) and record the redemption. Any refusal rolls it all
//! back, so a refused redemption leaves nothing behind.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::Money;
use platform::{ApiError, ApiResult, Context, db};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::card::{self, CardRef};
use super::postings::{post_discount, post_points};
use super::receipt::{self, Receipt};
use crate::actor::Actor;
use crate::db::redemptions::RedemptionRow;
use crate::db::{counters, promotions, redemptions};
use crate::domain::limits::{self, Counters};
use crate::domain::rules;
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

/// What `claim` found under an `Idempotency-Key`.
pub enum Claimed {
    /// Recorded before with the same request: answer with that redemption.
    Replay(Uuid),
    /// Not used yet; the key is locked until this transaction ends.
    Fresh(FreshKey),
}

/// A key claimed in this transaction (what `apply` needs first).
pub struct FreshKey {
    device_active: bool,
    /// The request's fingerprint, stored with the redemption.
    request_hash: Vec<u8>,
}

/// Takes the per-key lock and looks the key up, with the tablet's standing, in one
/// round trip (`redemption_claim_key`).
pub async fn claim(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &str,
    hash: Vec<u8>,
) -> ApiResult<Claimed> {
    let (device_active, id, merchant, request_hash): (
        bool,
        Option<Uuid>,
        Option<Uuid>,
        Option<Vec<u8>>,
    ) = sqlx::query_as(
        "SELECT device_active, id, merchant_id, request_hash
         FROM redemption_claim_key($1, $2, $3)",
    )
    .bind(format!("{}:{key}", actor.town))
    .bind(key)
    .bind(actor.device)
    .fetch_one(&mut *conn)
    .await?;
    match id {
        None => Ok(Claimed::Fresh(FreshKey {
            device_active,
            request_hash: hash,
        })),
        Some(id)
            if request_hash.as_deref() == Some(hash.as_slice())
                && merchant == Some(actor.merchant.as_uuid()) =>
        {
            Ok(Claimed::Replay(id))
        }
        Some(_) => Err(ApiError::conflict(
            "idempotency_conflict",
            "this Idempotency-Key was already used for a different redemption",
        )),
    }
}

/// One redemption in its own transaction, as the tablet asked for it: the key
/// claimed (a replay answers with the first receipt), the card's velocity checked
/// unless the caller already did (`throttled`), then `apply`.
pub async fn online(
    app: &App,
    ctx: &Context,
    actor: &Actor,
    request: &Request<'_>,
    card_key: &str,
    throttled: bool,
) -> ApiResult<(StatusCode, Receipt)> {
    let _gate = app.budget_gate(request.promotion).await;
    let mut tx = db::begin_town(&ctx.db, actor.town).await?;
    // A replay must not count against the card's velocity, so look first.
    let claimed = claim(&mut tx, actor, request.key, request.hash(actor)).await?;
    let (status, receipt) = match claimed {
        Claimed::Replay(id) => (StatusCode::OK, receipt::load(&mut tx, id, true).await?),
        Claimed::Fresh(fresh) => {
            if !throttled {
                throttle_card(app, ctx, actor, card_key).await?;
            }
            let now = chrono::Utc::now();
            let (row, limits) = apply(app, ctx, &mut tx, actor, request, fresh, now).await?;
            // Built from what the redeem wrote: nothing to read back.
            (StatusCode::CREATED, receipt::from_row(row, limits, false)?)
        }
    };
    tx.commit().await?;
    Ok((status, receipt))
}

/// The card's velocity limit: the same card at many shops within minutes is a
/// cloned card.
pub async fn throttle_card(
    app: &App,
    ctx: &Context,
    actor: &Actor,
    card_key: &str,
) -> ApiResult<()> {
    crate::ratelimit::throttle(ctx, &card_rate_key(actor, card_key), app.config.card_rate).await
}

/// The card's key in the rate cache.
pub fn card_rate_key(actor: &Actor, card_key: &str) -> String {
    format!("rl:card:{}:{card_key}", actor.town)
}

pub async fn redeem(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Outcome> {
    let fresh = match claim(conn, actor, req.key, req.hash(actor)).await? {
        Claimed::Replay(id) => return Ok(Outcome::Replayed(id)),
        Claimed::Fresh(fresh) => fresh,
    };
    let (row, _) = apply(app, ctx, conn, actor, req, fresh, now).await?;
    Ok(Outcome::Done(row.id))
}

/// The redemption itself, under a key `claim`ed in this transaction; returns it as
/// recorded and what is left of the card's limits after it (`limits_left`).
pub async fn apply(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request<'_>,
    key: FreshKey,
    now: DateTime<Utc>,
) -> ApiResult<(RedemptionRow, serde_json::Value)> {
    if !key.device_active {
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
    let mut raised = Counters::default();
    for b in &bumps {
        let Some(used) = counters::raise(conn, town.as_uuid(), promo.id, b).await? else {
            return Err(refusal(b.refusal()));
        };
        raised.set(&b.scope, used);
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
    let counters = serde_json::to_value(&bumps).map_err(ApiError::internal)?;
    let new = redemptions::NewRedemption {
        id,
        town: town.as_uuid(),
        merchant: actor.merchant.as_uuid(),
        promotion: promo.id,
        card: card_row.id,
        device: actor.device,
        staff: actor.staff,
        town_code: info.code,
        key: req.key,
        request_hash: &key.request_hash,
        basket: req.basket.amount(),
        discount: quote.discount.amount(),
        municipality: quote.municipality.amount(),
        merchant_share: quote.merchant.amount(),
        points_earned: quote.points_earned,
        points_spent: quote.points_spent,
        occurred_at: now,
        journal_tx: journal_tx.as_uuid(),
        points_tx: points_tx.map(|t| t.as_uuid()),
        counters,
    };
    let added = redemptions::insert(conn, &new).await?;
    let row = RedemptionRow {
        id,
        merchant_id: new.merchant,
        merchant_name: added.merchant_name,
        promotion_id: promo.id,
        promotion_name: promo.name.clone(),
        card_id: card_row.id,
        card_number: card_row.number,
        device_id: actor.device,
        receipt_number: added.receipt_number,
        request_hash: Some(new.request_hash.to_vec()),
        basket: new.basket,
        discount: new.discount,
        municipality_share: new.municipality,
        merchant_share: new.merchant_share,
        points_earned: new.points_earned,
        points_spent: new.points_spent,
        status: added.status,
        occurred_at: now,
        recorded_at: added.recorded_at,
        journal_tx: new.journal_tx,
        points_tx: new.points_tx,
        counters: new.counters,
    };
    Ok((row, limits::limits_left(&bumps, &raised)))
}

pub fn refusal(r: rules::Refusal) -> ApiError {
    ApiError::conflict(r.code(), r.message())
}
