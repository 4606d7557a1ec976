//! Load generator: N simulated tablets doing scan + redeem against a running
//! merchant-redemption over HTTP. Sets up its own town (QR key, cards, merchants,
//! staff with PINs, enrolled tablets, promotions) through the owner's database
//! connection, unlocks each tablet with its PIN (`/redemption/v1/devices/unlock`),
//! then runs for a fixed time and prints rates and latency percentiles. See deploy/bench/redemption.sh.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use ed25519_dalek::SigningKey;
use kernel::{CardId, CardNumber};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

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

const PASSWORD: &str = "bench-password-2026";
const PIN: &str = "2026";

struct Tablet {
    token: String,
    promotion: Uuid,
    cards: Vec<String>,
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
    let tablets = setup(&admin, &http, &args).await?;
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
    let cpu_from = tokio::task::spawn_blocking(cpu_ticks).await?;
    tokio::time::sleep_until(deadline.into()).await;
    let cpu_to = tokio::task::spawn_blocking(cpu_ticks).await?;
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
    println!(
        "scan_ms p50={:.2} p99={:.2}",
        pct(&mut scans, 0.50),
        pct(&mut scans, 0.99)
    );
    println!(
        "redeem_ms p50={:.2} p99={:.2}",
        pct(&mut redeems, 0.50),
        pct(&mut redeems, 0.99)
    );
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
    println!(
        "CPU {} {pg:.3} {service:.3} {loadgen:.3} {redis:.3} {total:.3}",
        args.mode
    );
    println!(
        "RESULT {} {:.1} {:.2} {:.2}",
        args.mode,
        n as f64 / secs,
        pct(&mut scans, 0.99),
        pct(&mut redeems, 0.99)
    );
    Ok(())
}

/// One tablet's keep-alive HTTP/1.1 connection. Requests are written and responses
/// read by hand (a body of `Content-Length` bytes, as the service sends), so the load
/// generator spends about what a lean client such as wrk does per request and leaves
/// the machine's CPU to the service and Postgres, which are what is measured.
struct Conn {
    addr: String,
    stream: Option<tokio::net::TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: String) -> Conn {
        Conn {
            addr,
            stream: None,
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(8192),
        }
    }

    /// POSTs a JSON body; returns the response's status once its body is read.
    async fn post(
        &mut self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &str,
    ) -> anyhow::Result<u16> {
        let r = self.exchange(path, token, key, body).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn exchange(
        &mut self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &str,
    ) -> anyhow::Result<u16> {
        use std::io::Write as _;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        if self.stream.is_none() {
            let s = tokio::net::TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            anyhow::bail!("no connection");
        };
        self.out.clear();
        write!(
            self.out,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        )?;
        if let Some(k) = key {
            write!(self.out, "Idempotency-Key: {k}\r\n")?;
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body.as_bytes());
        stream.write_all(&self.out).await?;

        let (head, status, length, close) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])?;
                let status: u16 = head.get(9..12).context("short status line")?.parse()?;
                let (mut length, mut close) = (0usize, false);
                for line in head.split("\r\n").skip(1) {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.trim();
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse()?;
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        anyhow::bail!("chunked responses are not read");
                    } else if name.eq_ignore_ascii_case("connection") {
                        close = value.eq_ignore_ascii_case("close");
                    }
                }
                break (end + 4, status, length, close);
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                anyhow::bail!("connection closed");
            }
        };
        while self.buf.len() < head + length {
            if stream.read_buf(&mut self.buf).await? == 0 {
                anyhow::bail!("connection closed");
            }
        }
        self.buf.drain(..head + length);
        if close {
            self.stream = None;
        }
        Ok(status)
    }
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

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

async fn setup(admin: &PgPool, http: &reqwest::Client, args: &Args) -> anyhow::Result<Vec<Tablet>> {
    let code: i16 = sqlx::query_scalar("SELECT min(c)::smallint FROM generate_series(100, 999) c WHERE c NOT IN (SELECT code FROM towns)")
        .fetch_one(admin).await?;
    let town = Uuid::now_v7();
    let slug = format!("bench-{code}");
    sqlx::query("INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, $2, $3, $2, 'SI56191000000123438')")
        .bind(town).bind(&slug).bind(code).execute(admin).await?;
    let mut conn = admin.acquire().await?;
    ledger::init_town(&mut conn, kernel::TownId::from_uuid(town)).await?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let kid = format!("b{code}");
    sqlx::query("INSERT INTO town_keys (kid, town_id, public_key) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(town)
        .bind(key.verifying_key().as_bytes().to_vec())
        .execute(admin)
        .await?;
    let product = Uuid::now_v7();
    sqlx::query("INSERT INTO card_products (id, town_id, code, names, kind) VALUES ($1, $2, 'RES', '{}', 'annual')")
        .bind(product).bind(town).execute(admin).await?;

    let promotions = if args.mode == "hot" { 1 } else { args.tablets };
    let mut promo_ids = Vec::new();
    for p in 0..promotions {
        let id = Uuid::now_v7();
        let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "max_discount": "20.00", "per_card_per_day": 1});
        sqlx::query("INSERT INTO promotions (id, town_id, name, co_financing_percent, rules, starts_on, ends_on)
                     VALUES ($1, $2, $3, 50, $4, current_date - 1, current_date + 30)")
            .bind(id).bind(town).bind(format!("Bench {p}")).bind(rules).execute(admin).await?;
        fund(&mut conn, town, id).await?;
        promo_ids.push(id);
    }
    let hash = platform::password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pin_hash = platform::password::hash(PIN).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tablets = Vec::new();
    for i in 0..args.tablets {
        let merchant = Uuid::now_v7();
        sqlx::query("INSERT INTO merchants (id, town_id, name, iban) VALUES ($1, $2, $3, 'SI56191000000123438')")
            .bind(merchant).bind(town).bind(format!("Shop {i}")).execute(admin).await?;
        let promotion = promo_ids[i % promo_ids.len()];
        sqlx::query("INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status) VALUES ($1, $2, $3, 'approved')")
            .bind(town).bind(promotion).bind(merchant).execute(admin).await?;
        let email = format!("till{i}@{slug}.bench");
        sqlx::query("INSERT INTO staff_users (id, town_id, merchant_id, email, display_name, role, password_hash, pin_hash)
                     VALUES ($1, $2, $3, $4, $4, 'merchant_staff', $5, $6)")
            .bind(Uuid::now_v7()).bind(town).bind(merchant).bind(&email).bind(&hash).bind(&pin_hash)
            .execute(admin).await?;
        // A real tablet: enrolled (its credential's hash stored, as enrolment does),
        // then unlocked with a PIN; its session names the device, whose own rate
        // limit and standing every scan and redeem checks.
        let device = Uuid::now_v7();
        let secret: [u8; 32] = rand::random();
        let credential = format!("{town}.{device}.{}", hex::encode(secret));
        sqlx::query("INSERT INTO devices (id, town_id, merchant_id, name, credential_hash) VALUES ($1, $2, $3, $4, $5)")
            .bind(device).bind(town).bind(merchant).bind(format!("Till {i}"))
            .bind(Sha256::digest(credential.as_bytes()).to_vec())
            .execute(admin).await?;
        let unlocked: Value = http
            .post(format!("{}/redemption/v1/devices/unlock", args.url))
            .json(&json!({"credential": credential, "email": email, "pin": PIN}))
            .send()
            .await?
            .json()
            .await?;
        let token = unlocked["access_token"]
            .as_str()
            .with_context(|| format!("unlock failed: {unlocked}"))?
            .to_owned();
        let first = (i * args.cards + 1) as u32;
        let cards = insert_cards(
            admin,
            town,
            product,
            code as u16,
            first,
            args.cards,
            &kid,
            &key,
        )
        .await?;
        tablets.push(Tablet {
            token,
            promotion,
            cards,
        });
    }
    Ok(tablets)
}

async fn fund(conn: &mut sqlx::PgConnection, town: Uuid, promo: Uuid) -> anyhow::Result<()> {
    use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
    let town = kernel::TownId::from_uuid(town);
    let open = |kind, owner| NewAccount {
        town,
        kind,
        owner,
        name: "bench".into(),
    };
    let funding =
        ledger::ensure_account(conn, &open(AccountKind::MunicipalityFunding, None)).await?;
    let budget =
        ledger::ensure_account(conn, &open(AccountKind::PromotionBudget, Some(promo))).await?;
    let a = rust_decimal::Decimal::from(10_000_000);
    ledger::post(
        conn,
        &Posting {
            town,
            idempotency_key: format!("bench-fund:{promo}"),
            kind: PostingKind::BudgetFunding,
            memo: String::new(),
            reverses: None,
            entries: vec![
                Entry {
                    account: funding,
                    amount: -a,
                },
                Entry {
                    account: budget,
                    amount: a,
                },
            ],
        },
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_cards(
    admin: &PgPool,
    town: Uuid,
    product: Uuid,
    code: u16,
    first: u32,
    n: usize,
    kid: &str,
    key: &SigningKey,
) -> anyhow::Result<Vec<String>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let serials: Vec<i32> = (0..n).map(|i| first as i32 + i as i32).collect();
    let numbers = serials
        .iter()
        .map(|s| CardNumber::new(code, *s as u32).map(|c| c.digits()))
        .collect::<Result<Vec<_>, _>>()?;
    let pages: Vec<String> = ids.iter().map(|i| i.simple().to_string()).collect();
    sqlx::query("INSERT INTO cards (id, town_id, product_id, serial, number, status, page_code)
                 SELECT i, $1, $2, s, n, 'active', p FROM UNNEST($3::uuid[], $4::int[], $5::text[], $6::text[]) AS u(i, s, n, p)")
        .bind(town).bind(product).bind(&ids).bind(&serials).bind(&numbers).bind(&pages).execute(admin).await?;
    Ok(ids
        .iter()
        .map(|id| {
            let claim = cardtoken::Claim {
                town_code: code,
                card_id: CardId::from_uuid(*id),
                token_serial: 1,
            };
            cardtoken::encode(&claim, kid, key)
        })
        .collect())
}
