//! What this service keeps in memory besides the platform `Context`: its settings,
//! the caches, the rate limiter and the ids of ledger accounts already opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use kernel::{AccountId, Money, TownId};
use ledger::{AccountKind, NewAccount};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::cache::Cache;
use crate::ratelimit::Rate;
use crate::service::batch::Batcher;

/// Service settings, from `TOWNCARD_REDEMPTION_*` environment variables.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long after a redemption it may still be voided.
    pub void_window_secs: i64,
    /// The same card redeemed at many shops within minutes is a cloned card.
    pub card_rate: Rate,
    pub device_rate: Rate,
    /// PIN unlock and enrolment attempts per client IP.
    pub login_rate: Rate,
    /// Offline redemptions one tablet may sync per local day: how many, and how
    /// much of the municipality's money (what it can lose to one lost tablet).
    pub offline_max_count: u32,
    pub offline_max_amount: Money,
    /// Tasks per town that write batches of concurrent redeems (0: each redeem in
    /// its own transaction). While one writes, the next batch gathers; another
    /// starts beside those in flight only with enough jobs (`service::batch`).
    /// Three rather than two: a redeem that arrives while two batches are being
    /// written need not wait for one of them (docs/performance.md).
    pub batch_workers: usize,
    /// Tasks per town that read batches of concurrent scans (0: each scan alone).
    pub scan_batch_workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            void_window_secs: 15 * 60,
            card_rate: Rate {
                per_minute: 6,
                burst: 6,
            },
            device_rate: Rate {
                per_minute: 600,
                burst: 120,
            },
            login_rate: Rate {
                per_minute: 10,
                burst: 5,
            },
            offline_max_count: 20,
            offline_max_amount: Money::from_cents(10_000),
            batch_workers: 3,
            scan_batch_workers: 2,
        }
    }
}

impl Config {
    pub fn from_env() -> Config {
        let mut c = Config::default();
        let num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        if let Some(v) = num("TOWNCARD_REDEMPTION_VOID_WINDOW_SECS") {
            c.void_window_secs = i64::from(v);
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_CARD_PER_MINUTE") {
            c.card_rate = Rate {
                per_minute: v,
                burst: v,
            };
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_DEVICE_PER_MINUTE") {
            c.device_rate = Rate {
                per_minute: v,
                burst: v.div_ceil(5).max(1),
            };
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_UNLOCK_PER_MINUTE") {
            c.login_rate = Rate {
                per_minute: v,
                burst: v.div_ceil(2).max(1),
            };
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_OFFLINE_MAX_COUNT") {
            c.offline_max_count = v;
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_BATCH_WORKERS") {
            c.batch_workers = v.min(16) as usize;
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_SCAN_BATCH_WORKERS") {
            c.scan_batch_workers = v.min(16) as usize;
        }
        if let Some(v) = std::env::var("TOWNCARD_REDEMPTION_OFFLINE_MAX_AMOUNT")
            .ok()
            .and_then(|v| Money::parse(&v).ok())
            .filter(|m| !m.amount().is_sign_negative())
        {
            c.offline_max_amount = v;
        }
        c
    }
}

/// (town, account kind, owner).
type AccountKey = (TownId, &'static str, Option<Uuid>);

pub struct Shared {
    pub config: Config,
    pub cache: Cache,
    pub batcher: Batcher,
    events: OnceLock<()>,
    budget_gates: Mutex<HashMap<Uuid, Arc<tokio::sync::Semaphore>>>,
    accounts: Mutex<HashMap<AccountKey, AccountId>>,
}

pub type App = Arc<Shared>;

/// Concurrent redemptions of one promotion per process (below its 16 budget shards).
pub const BUDGET_GATE: usize = 10;

impl Shared {
    pub fn new(config: Config) -> App {
        Arc::new(Shared {
            batcher: Batcher::new(config.batch_workers, config.scan_batch_workers),
            config,
            cache: Cache::default(),
            events: OnceLock::new(),
            budget_gates: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        })
    }

    /// Starts the cache-invalidating event subscription once, with the first
    /// request (the Redis URL is in the context, which the router meets only then).
    pub fn ensure_events(self: &Arc<Self>, ctx: &platform::Context) {
        self.events.get_or_init(|| {
            crate::events::spawn_subscriber(self.clone(), ctx.settings.redis.url.expose().clone());
        });
    }

    /// Admits at most `BUDGET_GATE` concurrent redemptions of one promotion in this
    /// process. The budget has 16 shards taken with SKIP LOCKED; with more
    /// concurrent debits than shards, the ledger falls back to locking all shards,
    /// which serializes everyone. Queuing here, before a connection is taken, keeps
    /// the debits on the fast path. Correctness does not depend on it.
    pub async fn budget_gate(&self, promotion: Uuid) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let gate = {
            let mut gates = self.budget_gates.lock().ok()?;
            if gates.len() > 10_000 {
                gates.clear();
            }
            gates
                .entry(promotion)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(BUDGET_GATE)))
                .clone()
        };
        gate.acquire_owned().await.ok()
    }

    /// The ledger account for (town, kind, owner), opened if missing. Ids of accounts
    /// that existed before this transaction are remembered (accounts are never
    /// deleted); one opened here is not, in case the transaction rolls back.
    pub async fn account(
        &self,
        conn: &mut PgConnection,
        town: TownId,
        kind: AccountKind,
        owner: Option<Uuid>,
    ) -> Result<AccountId, ledger::LedgerError> {
        let key = (town, kind.as_str(), owner);
        if let Some(id) = self.accounts.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(id);
        }
        if let Some(id) = ledger::find_account(conn, town, kind, owner).await? {
            if let Ok(mut m) = self.accounts.lock() {
                m.insert(key, id);
            }
            return Ok(id);
        }
        let name = match owner {
            Some(o) => format!("{} {o}", kind.as_str()),
            None => kind.as_str().to_owned(),
        };
        ledger::ensure_account(
            conn,
            &NewAccount {
                town,
                kind,
                owner,
                name,
            },
        )
        .await
    }
}
