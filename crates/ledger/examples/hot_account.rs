//! Measures redemption-shaped postings per second against one promotion budget, with
//! and without sharding, and spread over many budgets. Run: deploy/bench/ledger.sh
//!
//! Each posting is what a co-financed redemption posts: budget −M, merchant receivable +M,
//! merchant own discount +S, discounts granted −S.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kernel::{AccountId, TownId};
use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
use rust_decimal::Decimal;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

const CLIENTS: usize = 32;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let base =
        std::env::var("BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = PgPool::connect(&format!("{base}/postgres")).await?;
    admin
        .execute("DROP DATABASE IF EXISTS towncard_bench_ledger WITH (FORCE)")
        .await?;
    admin
        .execute("CREATE DATABASE towncard_bench_ledger")
        .await?;
    let owner = PgPool::connect(&format!("{base}/towncard_bench_ledger")).await?;
    sqlx::migrate!("../../migrations").run(&owner).await?;
    let town = TownId::new();
    sqlx::query("INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, 'bench', 999, 'Bench', 'SI56191000000123438')")
        .bind(town.as_uuid())
        .execute(&owner)
        .await?;
    let app = PgPoolOptions::new()
        .max_connections(CLIENTS as u32)
        .connect(&format!(
            "{}/towncard_bench_ledger",
            base.replace("postgres@", "towncard_app@")
        ))
        .await?;

    println!("ledger hot-account benchmark: {CLIENTS} concurrent clients, {secs} s per scenario");
    let one_sharded = scenario(&app, town, "one budget, 16 shards", 1, 16, secs).await?;
    let one_row = scenario(&app, town, "one budget, 1 shard (one hot row)", 1, 1, secs).await?;
    let spread = scenario(
        &app,
        town,
        "16 budgets (spread), 16 shards each",
        16,
        16,
        secs,
    )
    .await?;
    println!(
        "ratio one budget sharded / spread: {:.2}",
        one_sharded / spread
    );
    println!(
        "ratio one budget sharded / one hot row: {:.2}",
        one_sharded / one_row
    );

    let mut conn = owner.acquire().await?;
    let report = ledger::audit(&mut conn).await?;
    println!(
        "audit after {} transactions: {}",
        report.transactions,
        if report.is_clean() { "clean" } else { "FAILED" }
    );
    drop(conn);
    owner.close().await;
    app.close().await;
    admin
        .execute("DROP DATABASE IF EXISTS towncard_bench_ledger WITH (FORCE)")
        .await?;
    Ok(())
}

struct Accounts {
    budgets: Vec<AccountId>,
    receivables: Vec<AccountId>,
    own: Vec<AccountId>,
    granted: AccountId,
}

async fn open(
    pool: &PgPool,
    town: TownId,
    kind: AccountKind,
    shards: i16,
) -> Result<AccountId, Box<dyn std::error::Error>> {
    let mut tx = platform_free_begin(pool, town).await?;
    let acct = NewAccount {
        town,
        kind,
        owner: Some(uuid::Uuid::new_v4()),
        name: kind.as_str().into(),
    };
    let id = ledger::ensure_account_with_shards(&mut tx, &acct, shards).await?;
    tx.commit().await?;
    Ok(id)
}

async fn platform_free_begin(
    pool: &PgPool,
    town: TownId,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('towncard.town_id', $1, true)")
        .bind(town.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn scenario(
    pool: &PgPool,
    town: TownId,
    name: &str,
    budgets: usize,
    shards: i16,
    secs: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let funding = open(pool, town, AccountKind::MunicipalityFunding, 1).await?;
    let mut accts = Accounts {
        budgets: Vec::new(),
        receivables: Vec::new(),
        own: Vec::new(),
        granted: open(pool, town, AccountKind::DiscountsGranted, 16).await?,
    };
    for _ in 0..budgets {
        let b = open(pool, town, AccountKind::PromotionBudget, shards).await?;
        let mut tx = platform_free_begin(pool, town).await?;
        let amount = Decimal::new(100_000_000, 2);
        ledger::post(
            &mut tx,
            &Posting {
                town,
                idempotency_key: format!("fund-{b}"),
                kind: PostingKind::BudgetFunding,
                memo: String::new(),
                reverses: None,
                entries: vec![
                    Entry {
                        account: funding,
                        amount: -amount,
                    },
                    Entry { account: b, amount },
                ],
            },
        )
        .await?;
        tx.commit().await?;
        accts.budgets.push(b);
    }
    for _ in 0..50 {
        accts
            .receivables
            .push(open(pool, town, AccountKind::MerchantReceivable, 4).await?);
        accts
            .own
            .push(open(pool, town, AccountKind::MerchantOwnDiscount, 4).await?);
    }
    let accts = Arc::new(accts);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (pool, accts, done, failed) =
            (pool.clone(), accts.clone(), done.clone(), failed.clone());
        let name = name.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                n += 1;
                let m = (client * 7 + n) % accts.receivables.len();
                let budget = accts.budgets[(client + n) % accts.budgets.len()];
                let (muni, own) = (Decimal::new(150, 2), Decimal::new(150, 2));
                let p = Posting {
                    town,
                    idempotency_key: format!("{name}-{client}-{n}"),
                    kind: PostingKind::Redemption,
                    memo: String::new(),
                    reverses: None,
                    entries: vec![
                        Entry {
                            account: budget,
                            amount: -muni,
                        },
                        Entry {
                            account: accts.receivables[m],
                            amount: muni,
                        },
                        Entry {
                            account: accts.own[m],
                            amount: own,
                        },
                        Entry {
                            account: accts.granted,
                            amount: -own,
                        },
                    ],
                };
                let ok = async {
                    let mut tx = platform_free_begin(&pool, town).await?;
                    ledger::post(&mut tx, &p).await?;
                    tx.commit().await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                }
                .await;
                match ok {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / secs as f64;
    println!(
        "{name:<40} {rate:>8.0} postings/s  ({n} in {secs} s, {} failed)",
        failed.load(Ordering::Relaxed)
    );
    Ok(rate)
}
