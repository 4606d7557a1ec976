//! A redeem batch: which jobs it takes, and their answers.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::{ApiResult, Context, db};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::rows::{insert, post, raise_counters};
use super::{Answer, Job, throttle_devices};
use crate::actor::Actor;
use crate::db::cards::CardRow;
use crate::db::promotions;
use crate::db::redemptions::RedemptionRow;
use crate::domain::limits::{self, Bump, Counters};
use crate::domain::rules::{self, Promotion, Quote};
use crate::ratelimit;
use crate::service::{card, receipt, redeem};
use crate::state::App;

/// What becomes of each job of a batch.
enum Fate {
    /// Still in the batch.
    Batched,
    /// Still in the batch, its card's velocity counted.
    Throttled,
    /// To `redeem::online`; `throttled`: its card's velocity was already counted.
    Alone {
        throttled: bool,
    },
    Answered(Box<Answer>),
}

pub(super) async fn run(app: &App, ctx: &Context, mut jobs: Vec<Job>) {
    let mut fates: Vec<Fate> = jobs.iter().map(|_| Fate::Batched).collect();
    // The tablets' velocity (before anything is decided: a replay counts too)
    // while the batch's transaction begins.
    let begin = async {
        match jobs.len() {
            0 | 1 => None,
            _ => Some(db::begin_town(&ctx.db, jobs[0].actor.town).await),
        }
    };
    let actors: Vec<&Actor> = jobs.iter().map(|j| &j.actor).collect();
    let (allowed, tx) = tokio::join!(throttle_devices(app, ctx, &actors), begin);
    for (fate, allowed) in fates.iter_mut().zip(allowed) {
        if let Err(e) = allowed {
            *fate = Fate::Answered(Box::new(Err(e)));
        }
    }
    if let Some(tx) = tx {
        let now = Utc::now();
        let written = match tx {
            Ok(tx) => write(app, ctx, tx, &jobs, &mut fates, now).await,
            Err(e) => Err(e.into()),
        };
        match written {
            Ok(done) => {
                metrics::counter!("redemption_batches_total").increment(1);
                metrics::counter!("redemptions_batched_total").increment(done.len() as u64);
                for (i, row, limits) in done {
                    fates[i] = Fate::Answered(Box::new(
                        receipt::from_row(row, limits, false).map(|r| (StatusCode::CREATED, r)),
                    ));
                }
            }
            Err(e) => {
                metrics::counter!("redemption_batches_abandoned_total").increment(1);
                // Those still in the batch go alone below.
                tracing::debug!(error = %e.code, "redemption batch abandoned; its redeems go one by one");
            }
        }
    }
    let mut alone = Vec::new();
    for (job, fate) in jobs.iter_mut().zip(fates) {
        match fate {
            Fate::Answered(a) => {
                if let Some(tx) = job.reply.take() {
                    let _ = tx.send(*a);
                }
            }
            Fate::Alone { throttled } => alone.push((job, throttled)),
            Fate::Batched => alone.push((job, false)),
            Fate::Throttled => alone.push((job, true)),
        }
    }
    futures::future::join_all(alone.into_iter().map(|(job, throttled)| async move {
        let answer = job.alone(app, ctx, throttled).await;
        if let Some(tx) = job.reply.take() {
            let _ = tx.send(answer);
        }
    }))
    .await;
}

/// One job's redemption as decided in the batch.
pub(super) struct Decided {
    pub(super) i: usize,
    pub(super) card: CardRow,
    pub(super) promo: Promotion,
    pub(super) quote: Quote,
    pub(super) bumps: Vec<Bump>,
    pub(super) hash: Vec<u8>,
}

/// Decides and writes the batch; returns, per written job, its redemption and
/// what is left of its limits. Jobs it does not take are marked in `fates`; an
/// error means nothing was written and the jobs still in the batch go alone.
async fn write(
    app: &App,
    ctx: &Context,
    mut tx: Transaction<'static, Postgres>,
    jobs: &[Job],
    fates: &mut [Fate],
    now: DateTime<Utc>,
) -> ApiResult<Vec<(usize, RedemptionRow, serde_json::Value)>> {
    let town = jobs[0].actor.town;
    let conn: &mut PgConnection = &mut tx;

    // Keys: one job per key (a second one waits for the first, alone), locked in
    // one order, then looked up: a replay or a reused key goes alone.
    let mut seen = HashSet::new();
    for i in batched(fates).collect::<Vec<_>>() {
        if !seen.insert(jobs[i].key.as_str()) {
            fates[i] = Fate::Alone { throttled: false };
        }
    }
    let lock_keys: Vec<String> = batched(fates)
        .map(|i| format!("{}:{}", town, jobs[i].key))
        .collect();
    let keys: Vec<&str> = batched(fates).map(|i| jobs[i].key.as_str()).collect();
    let devices: Vec<Uuid> = jobs.iter().filter_map(|j| j.actor.device).collect();
    let found: Vec<(Option<String>, Option<Uuid>)> =
        sqlx::query_as("SELECT used_key, active_device FROM redemption_claim_keys($1, $2, $3)")
            .bind(&lock_keys)
            .bind(&keys)
            .bind(&devices)
            .fetch_all(&mut *conn)
            .await?;
    let used: HashSet<&str> = found.iter().filter_map(|(k, _)| k.as_deref()).collect();
    let active: HashSet<Uuid> = found.iter().filter_map(|(_, d)| *d).collect();
    for i in batched(fates).collect::<Vec<_>>() {
        let j = &jobs[i];
        let revoked = j.actor.device.is_some_and(|d| !active.contains(&d));
        if used.contains(j.key.as_str()) || revoked {
            fates[i] = Fate::Alone { throttled: false };
        }
    }

    // Cards: tokens verified (remembered from the scan), rows read together; a card
    // that `resolve` would refuse or activate goes alone.
    let info = card::town_info(app, conn, town, false).await?;
    let tokens: Vec<(usize, &str)> = batched(fates)
        .map(|i| (i, jobs[i].token.as_str()))
        .collect();
    let cards = card::usable_cards(app, conn, town, &info, &tokens, now).await?;

    // Offers and quotes: the promotion must be this merchant's offer, give a
    // discount without points, and pass its rules; each bump must fit on its own.
    let pending: Vec<usize> = batched(fates).collect();
    let merchants: Vec<Uuid> = pending
        .iter()
        .map(|&i| jobs[i].actor.merchant.as_uuid())
        .collect();
    let promos: Vec<Uuid> = pending.iter().map(|&i| jobs[i].promotion).collect();
    let offers: HashMap<(Uuid, Uuid), Promotion> =
        promotions::offers_for(conn, &merchants, &promos)
            .await?
            .into_iter()
            .filter_map(|(m, p)| p.to_domain().map(|d| ((m, d.id), d)))
            .collect();
    let day = now.with_timezone(&info.tz).date_naive();
    let mut decided = Vec::new();
    for i in pending {
        let j = &jobs[i];
        let merchant = j.actor.merchant.as_uuid();
        let card = cards.get(&i);
        let promo = offers.get(&(merchant, j.promotion));
        let (Some(card), Some(promo)) = (card, promo) else {
            fates[i] = Fate::Alone { throttled: false };
            continue;
        };
        let quote = (promo.rules.points_cost.is_none())
            .then(|| {
                let c = rules::Card {
                    id: card.id,
                    product_code: card.product_code.clone(),
                    points: 0,
                };
                rules::evaluate(promo, &c, j.basket, &Counters::default(), info.tz, now).ok()
            })
            .flatten()
            .filter(|q| q.points_earned == 0 && q.points_spent == 0 && !q.discount.is_zero());
        let Some(quote) = quote else {
            fates[i] = Fate::Alone { throttled: false };
            continue;
        };
        let bumps = limits::bumps(&promo.rules, &quote, &limits::keys(card.id, merchant, day));
        if bumps.iter().any(|b| b.by > b.limit) {
            fates[i] = Fate::Alone { throttled: false };
            continue;
        }
        decided.push(Decided {
            i,
            card: card.clone(),
            promo: promo.clone(),
            quote,
            bumps,
            hash: j.request().hash(&j.actor),
        });
    }

    // The cards' velocity, counted once, in one round trip: from here a job that
    // goes alone says so.
    let card_keys: Vec<String> = decided
        .iter()
        .map(|d| redeem::card_rate_key(&jobs[d.i].actor, &jobs[d.i].card_key))
        .collect();
    let checks: Vec<(&str, _)> = card_keys
        .iter()
        .map(|k| (k.as_str(), app.config.card_rate))
        .collect();
    let limited = ratelimit::throttle_many(ctx, &checks).await;
    let mut kept = Vec::with_capacity(decided.len());
    for (d, verdict) in decided.into_iter().zip(limited) {
        match verdict {
            Ok(()) => {
                fates[d.i] = Fate::Throttled;
                kept.push(d);
            }
            Err(e) => fates[d.i] = Fate::Answered(Box::new(Err(e))),
        }
    }
    if kept.is_empty() {
        return Ok(Vec::new());
    }

    let after = raise_counters(conn, town, &kept).await?;
    let journal = post(app, conn, town, jobs, &kept).await?;
    let written = insert(conn, town, info.code, jobs, &kept, &journal, now).await?;
    tx.commit().await?;

    let mut out = Vec::with_capacity(kept.len());
    for (((d, (w, counters)), used), journal_tx) in
        kept.into_iter().zip(written).zip(after).zip(journal)
    {
        let j = &jobs[d.i];
        let limits = limits::limits_left(&d.bumps, &used);
        let row = RedemptionRow {
            id: w.id,
            merchant_id: j.actor.merchant.as_uuid(),
            merchant_name: w.merchant_name,
            promotion_id: d.promo.id,
            promotion_name: d.promo.name.clone(),
            card_id: d.card.id,
            card_number: d.card.number.clone(),
            device_id: j.actor.device,
            receipt_number: w.receipt_number,
            request_hash: Some(d.hash),
            basket: j.basket.amount(),
            discount: d.quote.discount.amount(),
            municipality_share: d.quote.municipality.amount(),
            merchant_share: d.quote.merchant.amount(),
            points_earned: 0,
            points_spent: 0,
            status: w.status,
            occurred_at: now,
            recorded_at: w.recorded_at,
            journal_tx,
            points_tx: None,
            counters,
        };
        out.push((d.i, row, limits));
    }
    Ok(out)
}

fn batched(fates: &[Fate]) -> impl Iterator<Item = usize> + '_ {
    fates
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f, Fate::Batched))
        .map(|(i, _)| i)
}
