//! What this service keeps in memory besides the platform `Context`: its settings,
//! the caches, the rate limiter and the ids of ledger accounts already opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kernel::{AccountId, Money, TownId};
use ledger::{AccountKind, NewAccount};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::cache::Cache;
use crate::ratelimit::Rate;
use crate::service::batch::{Batcher, GATHER_REDEEMS, Gather, MAX_BATCH};

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
    /// How a redeem batch gathers while another is in flight: the balance between
    /// CPU per redemption and idle cores depends on the host and the load.
    pub redeem_gather: Gather,
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
            redeem_gather: GATHER_REDEEMS,
        }
    }
}

impl Config {
    pub fn from_env() -> Config {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings from `var` (the environment, or a test's own map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let mut c = Config::default();
        let num = |name: &str| var(name).and_then(|v| v.parse::<u32>().ok());
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
        if let Some(v) = num("TOWNCARD_REDEMPTION_BATCH_GATHER_JOBS") {
            c.redeem_gather.min = (v as usize).clamp(1, MAX_BATCH);
        }
        if let Some(v) = num("TOWNCARD_REDEMPTION_BATCH_GATHER_MS") {
            c.redeem_gather.wait = Duration::from_millis(u64::from(v.min(100)));
        }
        if let Some(v) = var("TOWNCARD_REDEMPTION_OFFLINE_MAX_AMOUNT")
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
            batcher: Batcher::new(
                config.batch_workers,
                config.scan_batch_workers,
                config.redeem_gather,
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_redeem_gathering_is_set_within_bounds() {
        assert_eq!(config(&[]).redeem_gather, GATHER_REDEEMS);
        let c = config(&[
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_JOBS", "8"),
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_MS", "3"),
        ]);
        assert_eq!(c.redeem_gather.min, 8);
        assert_eq!(c.redeem_gather.wait, Duration::from_millis(3));
        let c = config(&[
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_JOBS", "1000"),
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_MS", "100000"),
        ]);
        assert_eq!(c.redeem_gather.min, MAX_BATCH);
        assert_eq!(c.redeem_gather.wait, Duration::from_millis(100));
        let c = config(&[
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_JOBS", "0"),
            ("TOWNCARD_REDEMPTION_BATCH_GATHER_MS", "soon"),
        ]);
        assert_eq!(c.redeem_gather.min, 1);
        assert_eq!(c.redeem_gather.wait, GATHER_REDEEMS.wait);
    }

    #[test]
    fn unreadable_settings_keep_their_defaults() {
        let c = config(&[
            ("TOWNCARD_REDEMPTION_BATCH_WORKERS", "-1"),
            ("TOWNCARD_REDEMPTION_OFFLINE_MAX_AMOUNT", "-5.00"),
            ("TOWNCARD_REDEMPTION_VOID_WINDOW_SECS", "ten"),
        ]);
        let d = Config::default();
        assert_eq!(c.batch_workers, d.batch_workers);
        assert_eq!(c.offline_max_amount, d.offline_max_amount);
        assert_eq!(c.void_window_secs, d.void_window_secs);
    }
}
