//! Batched redeems: the redeems of scanned cards that reach this process at about
//! the same time are decided and written together, in one transaction with one
//! statement per table (a redemption's database work is mostly per statement, not
//! per row: docs/performance.md). Scans that arrive with them are read together
//! too, in a read-only transaction of their own.
//!
//! Only the plain case is batched: a fresh key, a card usable as it is, a discount
//! without points, every limit fitting. Anything else — a replay, a refusal, a
//! tourist card to activate, a limit or budget that the whole batch does not fit —
//! goes through `redeem::online` alone, which decides it exactly as if there were
//! no batches. So a batch never refuses anyone: it writes all of its redemptions or
//! none, and those it could not write are then done one by one.

use std::collections::hash_map;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::{AccountId, Money, TownId};
use ledger::{AccountKind, Entry, Posting, PostingKind};
use platform::{ApiError, ApiResult, Context, db};
use rust_decimal::Decimal;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::card::{self, CardRef};
use super::receipt::{self, Receipt};
use super::redeem::{self, Request};
use super::scan::{self, ScanResult};
use crate::actor::Actor;
use crate::db::cards::CardRow;
use crate::db::redemptions::RedemptionRow;
use crate::db::towns::TownInfo;
use crate::db::{cards, promotions};
use crate::domain::limits::{self, Bump, Counters};
use crate::domain::rules::{self, Promotion, Quote};
use crate::ratelimit::{self, throttle_device};
use crate::state::App;

/// The most redemptions one transaction takes.
pub const MAX_BATCH: usize = 32;

type Answer = ApiResult<(StatusCode, Receipt)>;

/// One tablet's redeem, waiting for a batch.
pub struct Job {
    actor: Actor,
    key: String,
    token: String,
    promotion: Uuid,
    basket: Money,
    card_key: String,
    reply: Option<oneshot::Sender<Answer>>,
}

impl Job {
    pub fn new(
        actor: Actor,
        key: &str,
        token: &str,
        promotion: Uuid,
        basket: Money,
        card_key: String,
    ) -> Job {
        Job {
            actor,
            key: key.to_owned(),
            token: token.to_owned(),
            promotion,
            basket,
            card_key,
            reply: None,
        }
    }

    fn request(&self) -> Request<'_> {
        Request {
            key: &self.key,
            card: CardRef::Token(&self.token),
            promotion: self.promotion,
            basket: self.basket,
        }
    }

    /// Through `redeem::online`, in its own transaction.
    async fn alone(&self, app: &App, ctx: &Context, throttled: bool) -> Answer {
        redeem::online(
            app,
            ctx,
            &self.actor,
            &self.request(),
            &self.card_key,
            throttled,
        )
        .await
    }
}

/// One tablet's scan of a QR token, waiting for a batch.
pub struct ScanJob {
    actor: Actor,
    token: String,
    basket: Option<Money>,
    reply: Option<oneshot::Sender<ApiResult<ScanResult>>>,
}

impl ScanJob {
    pub fn new(actor: Actor, token: &str, basket: Option<Money>) -> ScanJob {
        ScanJob {
            actor,
            token: token.to_owned(),
            basket,
            reply: None,
        }
    }

    async fn alone(&self, app: &App, ctx: &Context) -> ApiResult<ScanResult> {
        scan::online(
            app,
            ctx,
            &self.actor,
            CardRef::Token(&self.token),
            self.basket,
        )
        .await
    }
}

/// What the queues carry.
enum Work {
    Redeem(Job),
    Scan(ScanJob),
}

impl Work {
    /// The queue it goes to: its town's scans or its town's redeems.
    fn queue_key(&self) -> (TownId, bool) {
        match self {
            Work::Redeem(j) => (j.actor.town, false),
            Work::Scan(j) => (j.actor.town, true),
        }
    }
}

type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Work>>>;

/// Two queues per town (a transaction serves one town), for its redeems and for its
/// scans (so a scan does not wait for a redeem batch's commit), drained by
/// `workers` and `scan_workers` tasks: while a batch is written or read, the next
/// one gathers in the queue.
pub struct Batcher {
    workers: usize,
    scan_workers: usize,
    queues: Mutex<HashMap<(TownId, bool), mpsc::UnboundedSender<Work>>>,
}

impl Batcher {
    pub fn new(workers: usize, scan_workers: usize) -> Batcher {
        Batcher {
            workers,
            scan_workers,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Whether redeems go through batches.
    pub fn enabled(&self) -> bool {
        self.workers > 0
    }

    /// Whether scans go through batches.
    pub fn scans_enabled(&self) -> bool {
        self.scan_workers > 0
    }

    pub async fn submit(&self, app: &App, ctx: &Context, mut job: Job) -> Answer {
        let (tx, rx) = oneshot::channel();
        job.reply = Some(tx);
        if let Some(Work::Redeem(job)) = self.send(app, ctx, Work::Redeem(job)) {
            throttle_device(ctx, job.actor.device, app.config.device_rate).await?;
            return job.alone(app, ctx, false).await;
        }
        rx.await
            .map_err(|_| ApiError::internal("the redemption's batch ended without an answer"))?
    }

    pub async fn submit_scan(
        &self,
        app: &App,
        ctx: &Context,
        mut job: ScanJob,
    ) -> ApiResult<ScanResult> {
        // The token's signature is checked here, on the request's own task, so that
        // the batch (one task for many scans) finds it verified in the cache.
        if let Some(info) = app.cache.town(job.actor.town.as_uuid()) {
            let _ = card::verify_cached(app, job.actor.town, &info, &job.token);
        }
        let (tx, rx) = oneshot::channel();
        job.reply = Some(tx);
        if let Some(Work::Scan(job)) = self.send(app, ctx, Work::Scan(job)) {
            throttle_device(ctx, job.actor.device, app.config.device_rate).await?;
            return job.alone(app, ctx).await;
        }
        rx.await
            .map_err(|_| ApiError::internal("the scan's batch ended without an answer"))?
    }

    /// Queues the work, or gives it back when there is no queue to take it.
    fn send(&self, app: &App, ctx: &Context, work: Work) -> Option<Work> {
        match self.queue(app, ctx, work.queue_key()) {
            Some(q) => q.send(work).err().map(|e| e.0),
            None => Some(work),
        }
    }

    fn queue(
        &self,
        app: &App,
        ctx: &Context,
        key: (TownId, bool),
    ) -> Option<mpsc::UnboundedSender<Work>> {
        let mut queues = self.queues.lock().ok()?;
        let q = queues.entry(key).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let rx: Queue = Arc::new(tokio::sync::Mutex::new(rx));
            let busy = Arc::new(AtomicUsize::new(0));
            let (workers, gather) = if key.1 {
                (self.scan_workers, GATHER_SCANS)
            } else {
                (self.workers, GATHER_REDEEMS)
            };
            for _ in 0..workers {
                let (app, ctx, rx, busy) = (app.clone(), ctx.clone(), rx.clone(), busy.clone());
                tokio::spawn(work(app, ctx, rx, busy, gather));
            }
            tx
        });
        Some(q.clone())
    }
}

/// How a task gathers its batch while another task's batch of the queue is in
/// flight: until it holds `min` jobs or `wait` has passed. A small batch costs the
/// database nearly what a big one does (a job alone about as much as a batch), and
/// under that load more jobs are rarely far away. An idle queue (no batch in
/// flight) never waits.
#[derive(Clone, Copy)]
struct Gather {
    min: usize,
    wait: std::time::Duration,
}

/// Redeems: a second batch starts beside the first once it has 14 jobs, or after
/// 5 ms (bigger batches cost less per redemption; much bigger ones leave the cores
/// idle: docs/performance.md).
const GATHER_REDEEMS: Gather = Gather {
    min: 14,
    wait: std::time::Duration::from_millis(5),
};
/// Scans: only a lone scan waits, 1 ms, for a second.
const GATHER_SCANS: Gather = Gather {
    min: 2,
    wait: std::time::Duration::from_millis(1),
};

async fn work(app: App, ctx: Context, rx: Queue, busy: Arc<AtomicUsize>, gather: Gather) {
    // A scan task keeps its database connection from one batch to the next while
    // its queue stays busy and the pool has others to spare: taking a pooled
    // connection and giving it back cost a round trip each (the pool pings it),
    // which a scan batch's one call would pay again every time. (A redeem batch's
    // transaction is long enough not to gain measurably: docs/performance.md.)
    let mut held: Option<PoolConnection<Postgres>> = None;
    loop {
        let (mut redeems, mut scans) = (Vec::new(), Vec::new());
        {
            let mut rx = rx.lock().await;
            if rx.is_empty() || ctx.db.num_idle() == 0 {
                held = None;
            }
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut next = Some(first);
            let until = tokio::time::Instant::now() + gather.wait;
            loop {
                while let Some(w) = next.take() {
                    match w {
                        Work::Redeem(j) => redeems.push(j),
                        Work::Scan(j) => scans.push(j),
                    }
                    if redeems.len() < MAX_BATCH && scans.len() < MAX_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                if redeems.len() + scans.len() >= gather.min
                    || busy.load(Ordering::Relaxed) == 0
                    || tokio::time::Instant::now() >= until
                {
                    break;
                }
                next = tokio::time::timeout_at(until, rx.recv())
                    .await
                    .ok()
                    .flatten();
            }
        }
        busy.fetch_add(1, Ordering::Relaxed);
        // (A queue holds one kind.)
        if !scans.is_empty() {
            run_scans(&app, &ctx, &mut held, scans).await;
        }
        if !redeems.is_empty() {
            run(&app, &ctx, redeems).await;
        }
        busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads the scans' cards and counters together (`read_scans`), while their
/// tablets' velocity is checked; a scan it cannot answer from them goes through
/// `scan::online` alone (a throttled one not at all).
async fn run_scans(
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
        match read_scans(app, ctx, conn, &jobs, Utc::now()).await {
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
async fn read_scans(
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

/// The tablets' own velocity for a batch's jobs, in one Redis call (a batched
/// request leaves it to its batch); one verdict per job.
async fn throttle_devices(app: &App, ctx: &Context, actors: &[&Actor]) -> Vec<ApiResult<()>> {
    let keys: Vec<(usize, String)> = actors
        .iter()
        .enumerate()
        .filter_map(|(n, a)| a.device.map(|d| (n, ratelimit::device_key(d))))
        .collect();
    let checks: Vec<(&str, _)> = keys
        .iter()
        .map(|(_, k)| (k.as_str(), app.config.device_rate))
        .collect();
    let mut out: Vec<ApiResult<()>> = actors.iter().map(|_| Ok(())).collect();
    for ((n, _), verdict) in keys
        .iter()
        .zip(ratelimit::throttle_many(ctx, &checks).await)
    {
        out[*n] = verdict;
    }
    out
}

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

async fn run(app: &App, ctx: &Context, mut jobs: Vec<Job>) {
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
struct Decided {
    i: usize,
    card: CardRow,
    promo: Promotion,
    quote: Quote,
    bumps: Vec<Bump>,
    hash: Vec<u8>,
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
        let limits = redeem::limits_left(&d.bumps, &used);
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

/// Raises every counter of the batch by the batch's total, in the single path's
/// lock order (scope, then promotion and key); fails unless every one fits.
/// Returns, per job, its counters as they stood right after its own redemption.
async fn raise_counters(
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
async fn post(
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
        for (kind, owner, amount) in redeem::discount_entries(&d.quote, d.promo.id, merchant) {
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
struct Written {
    id: Uuid,
    receipt_number: String,
    status: String,
    recorded_at: DateTime<Utc>,
    merchant_name: String,
}

/// The redemption rows, booked into the open period; returned in the jobs' order,
/// each with the counters it records.
async fn insert(
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
