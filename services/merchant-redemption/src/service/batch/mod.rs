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
//!
//! `scans` reads scan batches, `redeems` decides redeem batches and `rows` writes
//! them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use kernel::{Money, TownId};
use platform::{ApiError, ApiResult, Context};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use super::card::{self, CardRef};
use super::receipt::Receipt;
use super::redeem::{self, Request};
use super::scan::{self, ScanResult};
use crate::actor::Actor;
use crate::ratelimit::{self, throttle_device};
use crate::state::App;

mod redeems;
mod rows;
mod scans;

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
    gather: Gather,
    queues: Mutex<HashMap<(TownId, bool), mpsc::UnboundedSender<Work>>>,
}

impl Batcher {
    pub fn new(workers: usize, scan_workers: usize, gather: Gather) -> Batcher {
        Batcher {
            workers,
            scan_workers,
            gather,
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
            let (workers, gather, kind) = if key.1 {
                (self.scan_workers, GATHER_SCANS, "scan")
            } else {
                (self.workers, self.gather, "redeem")
            };
            for _ in 0..workers {
                let (app, ctx, rx, busy) = (app.clone(), ctx.clone(), rx.clone(), busy.clone());
                tokio::spawn(work(app, ctx, rx, busy, gather, kind));
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gather {
    pub min: usize,
    pub wait: Duration,
}

/// Redeems, unless configured: another batch starts beside those in flight once it
/// has 14 jobs, or after 5 ms (bigger batches cost less per redemption; much bigger
/// ones leave the cores idle: docs/performance.md).
pub const GATHER_REDEEMS: Gather = Gather {
    min: 14,
    wait: Duration::from_millis(5),
};
/// Scans: only a lone scan waits, 1 ms, for a second.
const GATHER_SCANS: Gather = Gather {
    min: 2,
    wait: Duration::from_millis(1),
};

/// Gathers a batch from its first job on; returns why it stopped (the label of
/// `redemption_batch_gathers_total`).
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Work>,
    first: Work,
    busy: &AtomicUsize,
    rule: Gather,
    redeems: &mut Vec<Job>,
    scans: &mut Vec<ScanJob>,
) -> &'static str {
    let mut next = Some(first);
    let until = Instant::now() + rule.wait;
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
        // (`min` is at most MAX_BATCH, so a full batch ends here too.)
        if redeems.len() + scans.len() >= rule.min {
            return "jobs";
        }
        if busy.load(Ordering::Relaxed) == 0 {
            return "idle";
        }
        if Instant::now() >= until {
            return "wait";
        }
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(w)) => next = Some(w),
            Ok(None) => return "closed",
            Err(_) => return "wait",
        }
    }
}

async fn work(
    app: App,
    ctx: Context,
    rx: Queue,
    busy: Arc<AtomicUsize>,
    rule: Gather,
    kind: &'static str,
) {
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
            let ended = gather(&mut rx, first, &busy, rule, &mut redeems, &mut scans).await;
            metrics::counter!("redemption_batch_gathers_total", "queue" => kind, "ended" => ended)
                .increment(1);
        }
        busy.fetch_add(1, Ordering::Relaxed);
        // (A queue holds one kind.)
        if !scans.is_empty() {
            scans::run(&app, &ctx, &mut held, scans).await;
        }
        if !redeems.is_empty() {
            redeems::run(&app, &ctx, redeems).await;
        }
        busy.fetch_sub(1, Ordering::Relaxed);
    }
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
