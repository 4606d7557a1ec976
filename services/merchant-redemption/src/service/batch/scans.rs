//! A scan batch: the scans' cards and counters read in one call.

use std::collections::HashMap;
use std::collections::hash_map;

use chrono::{DateTime, Utc};
use kernel::TownId;
use platform::{ApiResult, Context, db};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use super::{ScanJob, throttle_devices};
use crate::actor::Actor;
use crate::db::cards::{self, CardRow};
use crate::db::towns::TownInfo;
use crate::domain::limits::{self, Counters};
use crate::domain::rules::Promotion;
use crate::service::card;
use crate::service::scan::{self, ScanResult};
use crate::state::App;

/// Reads the scans' cards and counters together (`read`), while their
/// tablets' velocity is checked; a scan it cannot answer from them goes through
/// `scan::online` alone (a throttled one not at all).
pub(super) async fn run(
    app: &App,
    ctx: &Context,
    held: &mut Option<PoolConnection<Postgres>>,
    mut jobs: Vec<ScanJob>,
) {
    let read = async {
        if jobs.len() < 2 {
            return None;
        }
        let conn = match held {
            Some(c) => c,
            None => match ctx.db.acquire().await {
                Ok(c) => held.insert(c),
                Err(e) => {
                    tracing::debug!(error = %e, "no connection for a scan batch; its scans go one by one");
                    return None;
                }
            },
        };
        match read(app, ctx, conn, &jobs, Utc::now()).await {
            Ok(read) => {
                metrics::counter!("scans_batched_total")
                    .increment(read.iter().filter(|r| r.is_some()).count() as u64);
                Some(read)
            }
            Err(e) => {
                // The connection is not trusted again: back to the pool, which tests it.
                *held = None;
                tracing::debug!(error = %e.code, "scan batch abandoned; its scans go one by one");
                None
            }
        }
    };
    let actors: Vec<&Actor> = jobs.iter().map(|j| &j.actor).collect();
    let (allowed, read) = tokio::join!(throttle_devices(app, ctx, &actors), read);
    let answers = read.unwrap_or_else(|| jobs.iter().map(|_| None).collect());
    let alone = jobs.iter_mut().zip(allowed.into_iter().zip(answers)).map(
        |(job, (allowed, answer))| async move {
            let answer = match (allowed, answer) {
                (Err(e), _) => Err(e),
                (Ok(()), Some(r)) => Ok(r),
                (Ok(()), None) => job.alone(app, ctx).await,
            };
            if let Some(tx) = job.reply.take() {
                let _ = tx.send(answer);
            }
        },
    );
    futures::future::join_all(alone).await;
}

/// Answers the scans it can from one call and no transaction
/// (`redemption_scan_read`: the cards not in the cache and every counter the offers
/// show, in one snapshot). The town (code, zone, QR keys) and each merchant's offers
/// come from the caches, or else from a short transaction that also fills them. A
/// token that does not verify with those keys (a new key, a bad token), a card
/// `resolve` would refuse or activate, and a shop with a points offer (it needs the
/// card's points) are left to `scan::online`.
async fn read(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    jobs: &[ScanJob],
    now: DateTime<Utc>,
) -> ApiResult<Vec<Option<ScanResult>>> {
    let town = jobs[0].actor.town;
    let (info, offers) = match cached_scan_inputs(app, town, jobs) {
        Some(found) => found,
        None => {
            let mut tx = db::begin_town(&ctx.db, town).await?;
            let info = card::town_info(app, &mut tx, town, false).await?;
            let mut offers = HashMap::new();
            for j in jobs {
                let m = j.actor.merchant.as_uuid();
                if let hash_map::Entry::Vacant(e) = offers.entry(m) {
                    e.insert(scan::offers_of(app, &mut tx, town, m).await?);
                }
            }
            tx.commit().await?;
            (info, offers)
        }
    };
    let day = now.with_timezone(&info.tz).date_naive();
    let mut claims = Vec::new();
    let mut rows: HashMap<Uuid, Option<CardRow>> = HashMap::new();
    for (n, j) in jobs.iter().enumerate() {
        let m = j.actor.merchant.as_uuid();
        if offers[&m].iter().any(|p| p.rules.points_cost.is_some()) {
            continue;
        }
        let Ok(claim) = card::verify_cached(app, town, &info, &j.token) else {
            continue;
        };
        let id = claim.card_id.as_uuid();
        rows.entry(id).or_insert_with(|| app.cache.card(id));
        claims.push((n, id, claim.token_serial, m, limits::keys(id, m, day)));
    }
    let missing: Vec<Uuid> = rows
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(id, _)| *id)
        .collect();
    // Counters for every claimed card (one that turns out unusable reads a few rows
    // for nothing).
    let read = {
        let (at, p, s, k) = counter_keys(&claims, &offers);
        cards::scan_read(conn, town.as_uuid(), &missing, &at, &p, &s, &k).await?
    };
    for r in read.cards {
        rows.insert(r.id, Some(r));
    }
    let mut counts: HashMap<i32, HashMap<Uuid, Counters>> = HashMap::new();
    for (n, promo, scope, used) in read.counters {
        counts
            .entry(n)
            .or_default()
            .entry(promo)
            .or_default()
            .set(&scope, used);
    }
    let mut out: Vec<Option<ScanResult>> = jobs.iter().map(|_| None).collect();
    let none = HashMap::new();
    for (n, id, serial, merchant, keys) in claims {
        let Some(Some(row)) = rows.get(&id) else {
            continue;
        };
        if !card::usable_as_is(row, serial, now) {
            continue;
        }
        app.cache.put_card(row.clone());
        out[n] = Some(scan::summary(
            row.clone(),
            &offers[&merchant],
            counts.get(&(n as i32)).unwrap_or(&none),
            0,
            jobs[n].basket,
            &keys,
            info.tz,
            now,
        ));
    }
    Ok(out)
}

/// The town and every merchant's offers, when the caches hold them all.
fn cached_scan_inputs(
    app: &App,
    town: TownId,
    jobs: &[ScanJob],
) -> Option<(TownInfo, HashMap<Uuid, Vec<Promotion>>)> {
    let info = app.cache.town(town.as_uuid())?;
    let mut offers = HashMap::new();
    for j in jobs {
        let m = j.actor.merchant.as_uuid();
        if let hash_map::Entry::Vacant(e) = offers.entry(m) {
            e.insert(app.cache.offers(town.as_uuid(), m)?);
        }
    }
    Some((info, offers))
}

/// Every (scan, promotion, scope, key) the claimed scans show.
fn counter_keys<'a>(
    claims: &'a [(usize, Uuid, u32, Uuid, limits::Keys)],
    offers: &HashMap<Uuid, Vec<Promotion>>,
) -> (Vec<i32>, Vec<Uuid>, Vec<&'a str>, Vec<&'a str>) {
    let (mut at, mut p, mut s, mut k) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (n, _, _, merchant, keys) in claims {
        for promo in &offers[merchant] {
            for (scope, key) in keys.all() {
                at.push(*n as i32);
                p.push(promo.id);
                s.push(scope);
                k.push(key);
            }
        }
    }
    (at, p, s, k)
}
