//! The settlement benchmark's two halves (deploy/bench/settlement.sh runs them):
//!
//! - `generate`: a town with N merchants and a month of redemptions, posted to the
//!   ledger in bulk (hash-chained, audit-clean) with matching redemption rows,
//!   after migrating the database;
//! - `close-and-export`: closes the month and writes every download to a folder,
//!   printing each one's size, digest and time.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};
use kernel::{Percent, TownId};
use rust_decimal::Decimal;
use settlement::console::i18n::Lang;
use settlement::domain::export;
use settlement::domain::{close, generate, month};
use sqlx::postgres::PgPoolOptions;

#[derive(Parser)]
struct Cli {
    /// Postgres as a role that may create towns (the owner).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Generate {
        #[arg(long, default_value = "bench")]
        town: String,
        #[arg(long, default_value = "2026-03")]
        month: String,
        #[arg(long, default_value_t = 1_000_000)]
        redemptions: u64,
        #[arg(long, default_value_t = 500)]
        merchants: usize,
        #[arg(long, default_value_t = 10_000)]
        batch: u64,
    },
    /// EXPLAIN ANALYZE of the close's aggregate for the (open) month.
    ExplainClose {
        #[arg(long, default_value = "bench")]
        town: String,
        #[arg(long, default_value = "2026-03")]
        month: String,
    },
    CloseAndExport {
        #[arg(long, default_value = "bench")]
        town: String,
        #[arg(long, default_value = "2026-03")]
        month: String,
        #[arg(long, default_value = "target/bench-settlement")]
        out: PathBuf,
        /// Also render this many merchant PDF statements (0 = none, -1 = all).
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        merchant_pdfs: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&cli.database_url)
        .await?;
    match cli.cmd {
        Cmd::Generate {
            town,
            month: m,
            redemptions,
            merchants,
            batch,
        } => {
            let month = month::parse(&m).map_err(|e| anyhow::anyhow!(e.message))?;
            let started = Instant::now();
            sqlx::migrate!("../../migrations").run(&pool).await?;
            let town_id = TownId::new();
            let code: i16 = sqlx::query_scalar(
                "SELECT min(c)::smallint FROM generate_series(100, 999) c WHERE c NOT IN (SELECT code FROM towns)",
            )
            .fetch_one(&pool)
            .await?;
            sqlx::query("INSERT INTO towns (id, slug, code, name, iban, bic) VALUES ($1, $2, $3, $4, 'SI56191000000123438', 'LJBASI2X')")
                .bind(town_id.as_uuid())
                .bind(&town)
                .bind(code)
                .bind(format!("Bench {town}"))
                .execute(&pool)
                .await?;
            let mut ids = Vec::new();
            for i in 0..merchants {
                let id = uuid::Uuid::now_v7();
                sqlx::query("INSERT INTO merchants (id, town_id, name, iban) VALUES ($1, $2, $3, 'SI56020100012345678')")
                    .bind(id)
                    .bind(town_id.as_uuid())
                    .bind(format!("Trgovina {:03}", i + 1))
                    .execute(&pool)
                    .await?;
                ids.push(id);
            }
            let mut tx = platform::db::begin_town(&pool, town_id).await?;
            ledger::init_town(&mut tx, town_id).await?;
            let pcts: Vec<Percent> = ["50", "100", "30", "0"]
                .iter()
                .filter_map(|p| Percent::parse(p).ok())
                .collect();
            let fx = generate::setup(&mut tx, town_id, &ids, &pcts, Decimal::new(100_000_000, 0))
                .await?;
            sqlx::query("INSERT INTO settlement_periods (town_id, month) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(town_id.as_uuid())
                .bind(month)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            let mut done = 0;
            while done < redemptions {
                let n = batch.min(redemptions - done);
                let mut tx = platform::db::begin_town(&pool, town_id).await?;
                settlement::domain::bulk::bulk_batch(&mut tx, &fx, month, done, n, 42).await?;
                tx.commit().await?;
                done += n;
                if done % 100_000 == 0 || done == redemptions {
                    eprintln!(
                        "generated {done} redemptions ({:.1} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            for table in ["redemptions", "journal_entries", "journal_transactions"] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                    .execute(&pool)
                    .await?;
            }
            println!(
                "town {town} ({town_id}): {redemptions} redemptions across {merchants} merchants in {m}, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Cmd::ExplainClose { town, month: m } => {
            let month = month::parse(&m).map_err(|e| anyhow::anyhow!(e.message))?;
            let town_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM towns WHERE slug = $1")
                .bind(&town)
                .fetch_one(&pool)
                .await?;
            let mut tx = platform::db::begin_town(&pool, TownId::from_uuid(town_id)).await?;
            sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
            for line in
                settlement::db::totals::explain_live(&mut tx, TownId::from_uuid(town_id), month)
                    .await?
            {
                println!("{line}");
            }
            tx.rollback().await?;
        }
        Cmd::CloseAndExport {
            town,
            month: m,
            out,
            merchant_pdfs,
        } => {
            let month = month::parse(&m).map_err(|e| anyhow::anyhow!(e.message))?;
            let town_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM towns WHERE slug = $1")
                .bind(&town)
                .fetch_one(&pool)
                .await?;
            let town_id = TownId::from_uuid(town_id);
            std::fs::create_dir_all(&out)?;
            let all = Instant::now();
            let t = Instant::now();
            let mut tx = platform::db::begin_town(&pool, town_id).await?;
            let period = close::close(&mut tx, town_id, month, None)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            tx.commit().await?;
            println!(
                "close                         {:>8.2} s",
                t.elapsed().as_secs_f64()
            );
            let mut tx = platform::db::begin_town(&pool, town_id).await?;
            let merchants: Vec<uuid::Uuid> =
                sqlx::query_scalar("SELECT id FROM merchants WHERE town_id = $1 ORDER BY name")
                    .bind(town_id.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            let take = if merchant_pdfs < 0 {
                merchants.len()
            } else {
                merchant_pdfs as usize
            };
            let t = Instant::now();
            let all_files = export::render_all(
                &pool,
                town_id,
                &period,
                Lang::Sl,
                &merchants[..take.min(merchants.len())],
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            let downloads = t.elapsed().as_secs_f64();
            let mut total_bytes = 0u64;
            let (mut pdfs, mut pdf_bytes, mut pdf_seconds) = (0, 0u64, 0.0);
            for r in &all_files {
                std::fs::copy(&r.file.path, out.join(r.download.name()))?;
                total_bytes += r.file.bytes;
                if r.download.merchant().is_none() {
                    println!(
                        "{:<28}  {:>8.2} s  {:>11} B  sha256 {}",
                        r.download.name(),
                        r.seconds,
                        r.file.bytes,
                        r.file.sha256
                    );
                } else {
                    pdfs += 1;
                    pdf_bytes += r.file.bytes;
                    pdf_seconds += r.seconds;
                }
            }
            println!(
                "{:<28}  {:>8.2} s  {:>11} B  ({:.3} s each, rendered {} at a time)",
                format!("{pdfs} merchant PDFs"),
                pdf_seconds,
                pdf_bytes,
                pdf_seconds / f64::from(pdfs.max(1)),
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            println!(
                "all downloads, concurrently   {:>8.2} s  (the listings and the statements side by side)",
                downloads
            );
            println!(
                "close + all downloads         {:>8.2} s  {total_bytes} B in {}",
                all.elapsed().as_secs_f64(),
                out.display()
            );
        }
    }
    Ok(())
}
