//! The command line. Every command reads the same settings (see README "Configuration").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use platform::{Application, Context, Settings};

#[derive(Parser)]
#[command(
    name = "towncard",
    version,
    about = "towncard: the all-in-one server and admin CLI"
)]
pub struct Cli {
    /// A TOML settings file (layered over the defaults, under TOWNCARD__ env vars).
    #[arg(long, global = true, env = "TOWNCARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve all three services in one process on one port.
    Serve,
    /// Create the database if missing and apply migrations (owner connection).
    Migrate,
    /// Load the demo town of Koper (idempotent).
    SeedDemo,
    /// Migrate, make a signing key if there is none, seed the demo and serve.
    Demo,
    /// Verify hash chains, zero sums and balances; exits 1 naming the first broken row.
    Audit {
        /// Only this town (its slug).
        #[arg(long)]
        town: Option<String>,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 signing key to the keys folder and print its kid.
    Generate {
        /// Defaults to auth.keys_dir.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Create a town's new QR signing key (sealed with issuing.key_encryption_key) and
    /// print its kid; older keys stop signing but keep verifying.
    TownQr {
        /// The town's slug, e.g. koper.
        #[arg(long)]
        town: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    platform::telemetry::init(&settings.log.format, &settings.log.filter);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            crate::migrate::migrate(settings.database.admin_url.expose()).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::SeedDemo => {
            let pool = crate::migrate::migrate(settings.database.admin_url.expose()).await?;
            crate::seed::seed_demo(&pool).await?;
            println!("demo town '{}' is seeded", crate::seed::TOWN_SLUG);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let pool = crate::migrate::migrate(settings.database.admin_url.expose()).await?;
            if platform::JwtKeys::load(&settings.auth).is_err() {
                let kid = platform::auth::generate_key_file(&settings.auth.keys_dir)?;
                println!(
                    "generated signing key {kid} in {}",
                    settings.auth.keys_dir.display()
                );
            }
            let seeded = crate::seed::seed_demo(&pool).await?;
            print_demo(&settings, &seeded);
            serve(settings).await
        }
        Command::Audit { town } => audit(&settings, town).await,
        Command::Keys {
            command: KeysCommand::Generate { dir },
        } => {
            let dir = dir.unwrap_or_else(|| settings.auth.keys_dir.clone());
            let kid = platform::auth::generate_key_file(&dir)?;
            println!("{kid}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command: KeysCommand::TownQr { town },
        } => {
            let pool = sqlx::PgPool::connect(settings.database.admin_url.expose()).await?;
            let mut conn = pool.acquire().await?;
            let kid = card_issuing::cli::create_town_qr_key(&mut conn, &town, &settings).await?;
            println!("{kid}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let ctx = Context::connect(settings.clone()).await?;
    let app = Application::build(&settings, crate::all_in_one::router(ctx)).await?;
    let addr = app.local_addr()?;
    tracing::info!(%addr, "towncard (all services) listening");
    println!("towncard is listening on http://{addr}");
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

async fn audit(settings: &Settings, town: Option<String>) -> anyhow::Result<ExitCode> {
    let pool = sqlx::PgPool::connect(settings.database.admin_url.expose()).await?;
    let mut conn = pool.acquire().await?;
    let report = match town {
        Some(slug) => {
            let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM towns WHERE slug = $1")
                .bind(&slug)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no town {slug:?}"))?;
            ledger::audit_town(&mut conn, kernel::TownId::from_uuid(id)).await?
        }
        None => ledger::audit(&mut conn).await?,
    };
    if report.is_clean() {
        println!(
            "audit passed: {} transactions, {} accounts; chains intact, every transaction sums to zero, balances match",
            report.transactions, report.accounts
        );
        return Ok(ExitCode::SUCCESS);
    }
    for f in &report.findings {
        eprintln!("town {}: {}", f.town, f.message);
    }
    eprintln!(
        "audit FAILED: {} finding(s); first: {}",
        report.findings.len(),
        report.findings[0].message
    );
    Ok(ExitCode::FAILURE)
}

fn print_demo(settings: &Settings, seeded: &crate::seed::Seeded) {
    let url = settings.server.public_url.trim_end_matches('/');
    println!();
    println!("towncard demo: town '{}' (Koper)", crate::seed::TOWN_SLUG);
    println!("  API docs:   {url}/issuing/docs  {url}/redemption/docs  {url}/settlement/docs");
    println!("  console:    {url}/settlement/console  (municipality: log in as admin@koper.demo)");
    println!(
        "  tablet:     {url}/tablet/  (town koper, Kavarna Loggia enrolment code {}, staff PIN {})",
        merchant_redemption::demo::DEMO_ENROLMENT_CODE,
        merchant_redemption::demo::DEMO_PIN
    );
    println!("  health:     {url}/readyz   metrics: {url}/metrics");
    println!(
        "  log in:     POST {url}/auth/login {{\"town\":\"koper\",\"email\":...,\"password\":...}}"
    );
    println!(
        "  password for every demo login: {}",
        crate::seed::DEMO_PASSWORD
    );
    for l in crate::seed::LOGINS {
        println!(
            "    {:<22} {:<15} {}",
            l.email,
            l.role,
            l.merchant.unwrap_or("")
        );
    }
    let shown: Vec<String> = seeded
        .cards
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect();
    println!(
        "  demo cards: {} … ({} in all)",
        shown.join(", "),
        seeded.cards.len()
    );
    if let Some(card) = &seeded.demo_card {
        println!(
            "  card page:  {url}/c/{}  (card {})",
            card.page_code, card.number
        );
        println!("  its QR token (demo only): {}", card.token);
    }
    println!();
}
