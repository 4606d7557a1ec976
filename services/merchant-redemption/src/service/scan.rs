//! Scan: the card summary and the offers this merchant can give it now, each with
//! the discount for the basket if one is given. Reads only (except a tourist
//! card's activation); uses the caches.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::{Money, TownId};
use platform::{ApiResult, Context, db};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::card::{self, CardRef};
use crate::actor::Actor;
use crate::db::cards::CardRow;
use crate::db::{counters, promotions};
use crate::domain::limits::limits_left;
use crate::domain::limits::{self, Counters};
use crate::domain::rules::{self, Benefit, Promotion};
use crate::state::App;

#[derive(Serialize, ToSchema)]
pub struct CardSummary {
    pub id: Uuid,
    pub number: String,
    pub product: String,
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub points: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Offer {
    pub promotion_id: Uuid,
    pub name: String,
    pub benefit: Benefit,
    /// Whether it can be redeemed now (for this basket, if one was given).
    pub available: bool,
    /// Why not, as an error code (e.g. `card_daily_limit_reached`).
    pub refusal: Option<String>,
    #[schema(value_type = Option<String>)]
    pub discount: Option<Money>,
    #[schema(value_type = Option<String>)]
    pub to_pay: Option<Money>,
    #[schema(value_type = Option<String>)]
    pub municipality_share: Option<Money>,
    pub points_earned: Option<i32>,
    pub points_cost: Option<i32>,
    /// What is left of the card's per-card limits (null = unlimited).
    #[schema(value_type = Object)]
    pub limits_left: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct ScanResult {
    pub card: CardSummary,
    pub offers: Vec<Offer>,
}

/// A scan in its own read transaction.
pub async fn online(
    app: &App,
    ctx: &Context,
    actor: &Actor,
    card: CardRef<'_>,
    basket: Option<Money>,
) -> ApiResult<ScanResult> {
    let mut tx = db::begin_town(&ctx.db, actor.town).await?;
    let result = scan(app, ctx, &mut tx, actor, card, basket, chrono::Utc::now()).await?;
    tx.commit().await?;
    Ok(result)
}

pub async fn scan(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    actor: &Actor,
    card_ref: CardRef<'_>,
    basket: Option<Money>,
    now: DateTime<Utc>,
) -> ApiResult<ScanResult> {
    let town = actor.town;
    let info = card::town_info(app, conn, town, false).await?;
    let c = card::resolve(app, ctx, conn, town, card_ref, true, now).await?;
    let merchant = actor.merchant.as_uuid();
    let offers = offers_of(app, conn, town, merchant).await?;
    let day = now.with_timezone(&info.tz).date_naive();
    let keys = limits::keys(c.id, merchant, day);
    let ids: Vec<Uuid> = offers.iter().map(|p| p.id).collect();
    let counts = counters::read(conn, &ids, &keys).await?;
    let points = if offers.iter().any(|p| p.rules.points_cost.is_some()) {
        card::points(conn, town, c.id).await?
    } else {
        0
    };
    Ok(summary(
        c, &offers, &counts, points, basket, &keys, info.tz, now,
    ))
}

/// The promotions this merchant may give (from the cache while it is live).
pub async fn offers_of(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    merchant: Uuid,
) -> ApiResult<Vec<Promotion>> {
    if let Some(o) = app.cache.offers(town.as_uuid(), merchant) {
        return Ok(o);
    }
    let rows = promotions::offers_of(conn, merchant).await?;
    let o: Vec<Promotion> = rows.iter().filter_map(|r| r.to_domain()).collect();
    app.cache.put_offers(town.as_uuid(), merchant, o.clone());
    Ok(o)
}

/// The card and each offer as the tablet shows them, from what was read.
#[allow(clippy::too_many_arguments)]
pub fn summary(
    c: CardRow,
    offers: &[Promotion],
    counts: &HashMap<Uuid, Counters>,
    points: i64,
    basket: Option<Money>,
    keys: &limits::Keys,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> ScanResult {
    let dc = rules::Card {
        id: c.id,
        product_code: c.product_code.clone(),
        points,
    };
    let list = offers
        .iter()
        .map(|p| {
            let cur = counts.get(&p.id).cloned().unwrap_or_default();
            offer(p, &dc, basket, &cur, keys, tz, now)
        })
        .collect();
    ScanResult {
        card: CardSummary {
            id: c.id,
            number: c.number,
            product: c.product_code,
            status: c.status,
            expires_at: c.expires_at,
            points,
        },
        offers: list,
    }
}

fn offer(
    p: &Promotion,
    card: &rules::Card,
    basket: Option<Money>,
    cur: &Counters,
    keys: &limits::Keys,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Offer {
    // Without a basket, check everything but the amounts with a nominal basket.
    let probe = basket
        .or(p.rules.min_basket)
        .unwrap_or(Money::from_cents(100));
    let result = rules::evaluate(p, card, probe, cur, tz, now);
    let quote = result.as_ref().ok().filter(|_| basket.is_some());
    let bumps = match &result {
        Ok(q) => limits::bumps(&p.rules, q, keys),
        Err(_) => limits::bumps(&p.rules, &crate::domain::pricing::quote(p, probe), keys),
    };
    Offer {
        promotion_id: p.id,
        name: p.name.clone(),
        benefit: p.rules.benefit.clone(),
        available: result.is_ok(),
        refusal: result.as_ref().err().map(|r| r.code().to_owned()),
        discount: quote.map(|q| q.discount),
        to_pay: quote.map(|q| q.basket - q.discount),
        municipality_share: quote.map(|q| q.municipality),
        points_earned: quote.map(|q| q.points_earned),
        points_cost: p.rules.points_cost,
        limits_left: limits_left(&bumps, cur),
    }
}
