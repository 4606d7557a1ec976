//! Load generator: N simulated tablets doing scan + redeem against a running
//! merchant-redemption over HTTP. Sets up its own town (QR key, cards, merchants,
//! staff with PINs, enrolled tablets, promotions) through the owner's database
//! connection, unlocks each tablet with its PIN (`/redemption/v1/devices/unlock`),
//! then runs for a fixed time and prints rates and latency percentiles. See deploy/bench/redemption.sh.

mod conn;
mod setup;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

use conn::Conn;

#[derive(Parser, Debug)]
struct Args {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    url: String,
    /// The database owner's URL (for setting up the bench town).
    #[arg(
        long,
        env = "BENCH_ADMIN_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/towncard_bench"
    )]
    admin_url: String,
    #[arg(long, default_value_t = 32)]
    tablets: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of the same load before measuring (new connections plan their
    /// statements and fill their caches); not counted.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// `hot`: every tablet redeems one promotion (one budget); `spread`: one promotion per tablet.
    #[arg(long, default_value = "spread")]
    mode: String,
    /// Cards per tablet (each card is redeemed once: the promotion allows one a day).
    #[arg(long, default_value_t = 4000)]
    cards: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&args.admin_url)
        .await
        .context("admin database")?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.tablets * 2)
        .build()?;
    let tablets = setup::tablets(&admin, &http, &args).await?;
    println!(
        "setup done: {} tablets, mode {}, {} cards each",
        tablets.len(),
        args.mode,
        args.cards
    );

    let measured_from = Instant::now() + Duration::from_secs(args.warmup);
    let deadline = measured_from + Duration::from_secs(args.seconds);
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    let addr = args
        .url
        .strip_prefix("http://")
        .context("--url must be http://host:port")?
        .trim_end_matches('/')
        .to_owned();
    for (i, t) in tablets.into_iter().enumerate() {
        let (addr, ok, refused) = (addr.clone(), ok.clone(), refused.clone());
        handles.push(tokio::spawn(async move {
            let (mut scans, mut redeems) = (Vec::new(), Vec::new());
            let mut conn = Conn::new(addr);
            for (n, card) in t.cards.iter().enumerate() {
                if Instant::now() >= deadline {
                    break;
                }
                let basket = format!("{}.{:02}", 5 + (n % 40), n % 100);
                let started = Instant::now();
                let counted = started >= measured_from;
                let body = format!(r#"{{"token":"{card}","basket":"{basket}"}}"#);
                let scan = conn
                    .post("/redemption/v1/scan", &t.token, None, &body)
                    .await;
                if counted {
                    scans.push(started.elapsed());
                }
                if !matches!(scan, Ok(200)) {
                    if counted {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                let started = Instant::now();
                let key = format!("bench-{i}-{n}");
                let body = format!(
                    r#"{{"token":"{card}","promotion_id":"{}","basket":"{basket}"}}"#,
                    t.promotion
                );
                let r = conn
                    .post("/redemption/v1/redemptions", &t.token, Some(&key), &body)
                    .await;
                if !counted {
                    continue;
                }
                redeems.push(started.elapsed());
                match r {
                    Ok(201) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
            (scans, redeems)
        }));
    }
    // The bench database is new: its statistics say every table the warmup filled
    // is empty, and plans made from them stay until autovacuum's next visit. A
    // database in service is analyzed, so analyze before measuring.
    if args.warmup >= 2 {
        tokio::time::sleep_until((measured_from - Duration::from_secs(1)).into()).await;
        sqlx::query("ANALYZE").execute(&admin).await?;
    }
    // CPU of each process group over the measured window (see `cpu_ticks`).
    tokio::time::sleep_until(measured_from.into()).await;
    let (cpu_from, cores_from) = tokio::task::spawn_blocking(|| (cpu_ticks(), cores())).await?;
    let wal_from = wal(&admin).await?;
    tokio::time::sleep_until(deadline.into()).await;
    let (cpu_to, cores_to) = tokio::task::spawn_blocking(|| (cpu_ticks(), cores())).await?;
    let wal_to = wal(&admin).await?;
    let (mut scans, mut redeems) = (Vec::new(), Vec::new());
    for h in handles {
        let (s, r) = h.await?;
        scans.extend(s);
        redeems.extend(r);
    }
    let secs = measured_from.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "mode={} tablets={} seconds={secs:.1}",
        args.mode, args.tablets
    );
    println!(
        "redemptions_ok={n} refused_or_failed={} redemptions_per_s={:.1}",
        refused.load(Ordering::Relaxed),
        n as f64 / secs
    );
    for (name, v) in [("scan_ms", &mut scans), ("redeem_ms", &mut redeems)] {
        println!(
            "{name} p50={:.2} p90={:.2} p95={:.2} p99={:.2} max={:.2}",
            pct(v, 0.50),
            pct(v, 0.90),
            pct(v, 0.95),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    }
    // Ticks are 1/100 s (USER_HZ); ms of CPU per successful redemption.
    let per = |group: &str| {
        let d = cpu_to.get(group).copied().unwrap_or(0) - cpu_from.get(group).copied().unwrap_or(0);
        if n == 0 {
            0.0
        } else {
            d as f64 * 10.0 / n as f64
        }
    };
    let [pg, service, loadgen, redis] = ["postgres", "service", "loadgen", "redis"].map(per);
    let total = pg + service + loadgen + redis;
    // The rate is the cores' busy share × 2,000 ms ÷ the CPU per redemption: the
    // last field says how much of the machine the load kept busy.
    let busy = match cores_to.1 - cores_from.1 {
        0 => 0.0,
        all => (cores_to.0 - cores_from.0) as f64 * 100.0 / all as f64,
    };
    println!(
        "CPU {} {pg:.3} {service:.3} {loadgen:.3} {redis:.3} {total:.3} {busy:.1}",
        args.mode
    );
    // What Postgres wrote to its WAL per redemption: records, full-page images, bytes.
    let [records, fpi, bytes] =
        [0, 1, 2].map(|k| (wal_to[k] - wal_from[k]) as f64 / n.max(1) as f64);
    println!("WAL {} {records:.1} {fpi:.2} {bytes:.0}", args.mode);
    println!(
        "RESULT {} {:.1} {:.2} {:.2}",
        args.mode,
        n as f64 / secs,
        pct(&mut scans, 0.99),
        pct(&mut redeems, 0.99)
    );
    Ok(())
}

/// The cluster's WAL records, full-page images and bytes so far (`pg_stat_wal`).
async fn wal(admin: &sqlx::PgPool) -> anyhow::Result<[i64; 3]> {
    let (r, f, b): (i64, i64, i64) =
        sqlx::query_as("SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal")
            .fetch_one(admin)
            .await?;
    Ok([r, f, b])
}

/// User + system CPU ticks so far of every process on this machine, summed by
/// group: Postgres backends, the service, this load generator, Redis. The bench
/// runs them all on one host, so this is where a redemption's CPU goes.
fn cpu_ticks() -> std::collections::HashMap<&'static str, i64> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15, counted after the comm.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map(|(_, c)| c).unwrap_or_default();
        let group = if comm.starts_with("postgres") {
            "postgres"
        } else if comm.starts_with("merchant-redemp") {
            "service"
        } else if comm.starts_with("redemption-load") {
            "loadgen"
        } else if comm.starts_with("redis-server") {
            "redis"
        } else {
            continue;
        };
        let f: Vec<&str> = rest.split(' ').collect();
        let ticks = f.get(11).and_then(|u| u.parse::<i64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        *out.entry(group).or_insert(0) += ticks;
    }
    out
}

/// Busy and all ticks so far of the machine's cores (`/proc/stat`'s first line;
/// idle and I/O wait count as not busy).
fn cores() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let all: u64 = f.iter().sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (all - idle, all)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}
