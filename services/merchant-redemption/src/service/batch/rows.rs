//! A redeem batch's writes: counters, ledger postings and redemption rows.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use kernel::{AccountId, TownId};
use ledger::{AccountKind, Entry, Posting, PostingKind};
use platform::{ApiError, ApiResult};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Job;
use super::redeems::Decided;
use crate::domain::limits::{self, Counters};
use crate::service::postings;
use crate::state::App;

/// Raises every counter of the batch by the batch's total, in the single path's
/// lock order (scope, then promotion and key); fails unless every one fits.
/// Returns, per job, its counters as they stood right after its own redemption.
pub(super) async fn raise_counters(
    conn: &mut PgConnection,
    town: TownId,
    kept: &[Decided],
) -> ApiResult<Vec<Counters>> {
    use limits::SCOPES;
    let rank = |s: &str| SCOPES.iter().position(|o| *o == s).unwrap_or(SCOPES.len());
    let mut total: BTreeMap<(usize, Uuid, &str), (Decimal, Decimal)> = BTreeMap::new();
    for d in kept {
        for b in &d.bumps {
            let t = total
                .entry((rank(&b.scope), d.promo.id, b.key.as_str()))
                .or_insert((Decimal::ZERO, b.limit));
            t.0 += b.by;
        }
    }
    if total.is_empty() {
        return Ok(kept.iter().map(|_| Counters::default()).collect());
    }
    let (mut p, mut s, mut k, mut by, mut lim) = (vec![], vec![], vec![], vec![], vec![]);
    for ((r, promo, key), (sum, limit)) in &total {
        p.push(*promo);
        s.push(SCOPES.get(*r).copied().unwrap_or("day_budget"));
        k.push(*key);
        by.push(*sum);
        lim.push(*limit);
    }
    let rows: Vec<(Uuid, String, String, Decimal)> = sqlx::query_as(
        "INSERT INTO redemption_counters AS rc (town_id, promotion_id, scope, key, used)
         SELECT $1, u.p, u.s, u.k, u.b
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::numeric[])
             AS u(p, s, k, b, l)
         WHERE u.b <= u.l
         ON CONFLICT (promotion_id, scope, key) DO UPDATE
             SET used = rc.used + EXCLUDED.used
             WHERE rc.used + EXCLUDED.used <= (
                 SELECT v.l FROM unnest($2::uuid[], $3::text[], $4::text[], $6::numeric[])
                     AS v(p, s, k, l)
                 WHERE v.p = EXCLUDED.promotion_id AND v.s = EXCLUDED.scope
                   AND v.k = EXCLUDED.key)
         RETURNING rc.promotion_id, rc.scope, rc.key, rc.used",
    )
    .bind(town.as_uuid())
    .bind(&p)
    .bind(&s)
    .bind(&k)
    .bind(&by)
    .bind(&lim)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() != total.len() {
        return Err(ApiError::conflict(
            "batch_limit",
            "a limit does not fit the whole batch",
        ));
    }
    // After the batch a counter stands at `used`; a job's own value is that less
    // what the jobs after it in the batch added.
    let mut level: HashMap<(Uuid, String, String), Decimal> = rows
        .into_iter()
        .map(|(p, s, k, u)| ((p, s, k), u))
        .collect();
    let mut out = vec![Counters::default(); kept.len()];
    for (n, d) in kept.iter().enumerate().rev() {
        for b in &d.bumps {
            if let Some(u) = level.get_mut(&(d.promo.id, b.scope.clone(), b.key.clone())) {
                out[n].set(&b.scope, *u);
                *u -= b.by;
            }
        }
    }
    Ok(out)
}

/// The redemption postings of docs/ledger.md, one per job, in one bulk posting.
pub(super) async fn post(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    jobs: &[Job],
    kept: &[Decided],
) -> ApiResult<Vec<Uuid>> {
    // Each account looked up once per batch: `App::account` remembers an account it
    // finds, and a second lookup here would find one this transaction just opened.
    let mut seen: HashMap<(AccountKind, Option<Uuid>), AccountId> = HashMap::new();
    let mut postings = Vec::with_capacity(kept.len());
    for d in kept {
        let merchant = jobs[d.i].actor.merchant.as_uuid();
        let mut entries = Vec::with_capacity(4);
        for (kind, owner, amount) in postings::discount_entries(&d.quote, d.promo.id, merchant) {
            let account = match seen.get(&(kind, owner)) {
                Some(a) => *a,
                None => {
                    let a = app.account(conn, town, kind, owner).await?;
                    seen.insert((kind, owner), a);
                    a
                }
            };
            entries.push(Entry { account, amount });
        }
        postings.push(Posting {
            town,
            idempotency_key: format!("redemption:{}", jobs[d.i].key),
            kind: PostingKind::Redemption,
            memo: String::new(),
            reverses: None,
            entries,
        });
    }
    let ids = ledger::post_bulk(conn, town, &postings).await?;
    Ok(ids.into_iter().map(|t| t.as_uuid()).collect())
}

#[derive(sqlx::FromRow)]
pub(super) struct Written {
    pub(super) id: Uuid,
    pub(super) receipt_number: String,
    pub(super) status: String,
    pub(super) recorded_at: DateTime<Utc>,
    pub(super) merchant_name: String,
}

/// The redemption rows, booked into the open period; returned in the jobs' order,
/// each with the counters it records.
pub(super) async fn insert(
    conn: &mut PgConnection,
    town: TownId,
    town_code: u16,
    jobs: &[Job],
    kept: &[Decided],
    journal: &[Uuid],
    now: DateTime<Utc>,
) -> ApiResult<Vec<(Written, serde_json::Value)>> {
    let n = kept.len();
    let (mut id, mut merchant, mut promotion, mut card) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut device, mut staff, mut key, mut hash) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut basket, mut discount, mut muni, mut share, mut counters) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for d in kept {
        let j = &jobs[d.i];
        id.push(Uuid::now_v7());
        merchant.push(j.actor.merchant.as_uuid());
        promotion.push(d.promo.id);
        card.push(d.card.id);
        device.push(j.actor.device);
        staff.push(j.actor.staff);
        key.push(j.key.as_str());
        hash.push(d.hash.clone());
        basket.push(j.basket.amount());
        discount.push(d.quote.discount.amount());
        muni.push(d.quote.municipality.amount());
        share.push(d.quote.merchant.amount());
        counters.push(serde_json::to_value(&d.bumps).map_err(ApiError::internal)?);
    }
    let mut rows: Vec<Written> = sqlx::query_as(
        "WITH b AS MATERIALIZED (
             SELECT booking_period($1, $3) AS period, natural_period($1, $3) AS natural)
         INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, device_id,
             staff_user_id, receipt_number, idempotency_key, request_hash, basket, discount,
             municipality_share, merchant_share, occurred_at, period, adjustment, journal_tx,
             counters)
         SELECT u.id, $1, u.merchant, u.promotion, u.card, u.device, u.staff,
             $2::text || '-' || to_char(now() AT TIME ZONE 'Europe/Ljubljana', 'YYMMDD') || '-'
                 || lpad(nextval('redemption_receipt_seq')::text, 8, '0'),
             u.key, u.hash, u.basket, u.discount, u.muni, u.share, $3, b.period,
             b.period <> b.natural, u.tx, u.counters
         FROM unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[], $9::uuid[],
                     $10::text[], $11::bytea[], $12::numeric[], $13::numeric[], $14::numeric[],
                     $15::numeric[], $16::uuid[], $17::jsonb[])
             AS u(id, merchant, promotion, card, device, staff, key, hash, basket, discount, muni,
                  share, tx, counters)
         CROSS JOIN b
         RETURNING id, receipt_number, status, recorded_at,
             (SELECT m.name FROM merchants m WHERE m.id = merchant_id) AS merchant_name",
    )
    .bind(town.as_uuid())
    .bind(town_code.to_string())
    .bind(now)
    .bind(&id)
    .bind(&merchant)
    .bind(&promotion)
    .bind(&card)
    .bind(&device)
    .bind(&staff)
    .bind(&key)
    .bind(&hash)
    .bind(&basket)
    .bind(&discount)
    .bind(&muni)
    .bind(&share)
    .bind(journal)
    .bind(&counters)
    .fetch_all(&mut *conn)
    .await?;
    // RETURNING does not promise the input's order.
    let at: HashMap<Uuid, usize> = id.iter().enumerate().map(|(n, i)| (*i, n)).collect();
    rows.sort_by_key(|w| at.get(&w.id).copied().unwrap_or(usize::MAX));
    if rows.len() != n {
        return Err(ApiError::internal(
            "a batch's redemptions were not all written",
        ));
    }
    Ok(rows.into_iter().zip(counters).collect())
}
