//! Helpers for tests that run the real app: a context on a per-test database acting
//! as the service role, a server on a free port, towns and staff to act as.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use kernel::{MerchantId, Role, TownId, UserId};
use sqlx::PgPool;

use crate::ratelimit::Limiter;
use crate::serve::{Context, connect_redis, metrics_handle};
use crate::{JwtKeys, Settings};

/// A context whose pool logs in as `towncard_app` to the test database behind `admin`.
/// Redis is the real one at `REDIS_URL` (default 127.0.0.1:6379).
pub async fn context(admin: &PgPool) -> Context {
    context_with(admin, settings()).await
}

/// The settings `context` uses, for a test that changes one of them.
pub fn settings() -> Settings {
    crate::telemetry::init_for_tests();
    let mut settings = Settings::default();
    settings.server.port = 0;
    // Every test logs in from 127.0.0.1; the login limit has its own test.
    settings.auth.login_per_minute = 0;
    if let Ok(url) = std::env::var("REDIS_URL") {
        settings.redis.url = crate::Secret::new(url);
    }
    settings
}

pub async fn context_with(admin: &PgPool, settings: Settings) -> Context {
    let db = crate::db::connect_as(admin, "towncard_app")
        .await
        .unwrap_or_else(|e| panic!("service role cannot connect: {e}"));
    let redis = connect_redis(
        settings.redis.url.expose(),
        std::time::Duration::from_millis(settings.redis.response_timeout_ms),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    Context {
        db,
        redis,
        jwt: Arc::new(JwtKeys::ephemeral(&settings.auth)),
        settings: Arc::new(settings),
        metrics: metrics_handle(),
        limiter: Arc::new(Limiter::default()),
    }
}

/// Serves `app` on a free port in the background; returns `http://127.0.0.1:PORT`.
pub async fn spawn(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr: SocketAddr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    format!("http://{addr}")
}

/// Inserts a town as the owner and opens its journal lanes.
pub async fn make_town(admin: &PgPool, slug: &str, code: i16) -> TownId {
    let town = TownId::new();
    sqlx::query(
        "INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, $2, $3, $2, 'SI56191000000123438')",
    )
    .bind(town.as_uuid())
    .bind(slug)
    .bind(code)
    .execute(admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    ledger::init_town(&mut conn, town)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    town
}

pub async fn make_merchant(admin: &PgPool, town: TownId, name: &str) -> MerchantId {
    let id = MerchantId::new();
    sqlx::query("INSERT INTO merchants (id, town_id, name, iban) VALUES ($1, $2, $3, 'SI56191000000123438')")
        .bind(id.as_uuid())
        .bind(town.as_uuid())
        .bind(name)
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    id
}

/// Inserts a staff user with this password (argon2-hashed) and returns their id.
pub async fn make_staff(
    admin: &PgPool,
    town: TownId,
    role: Role,
    merchant: Option<MerchantId>,
    email: &str,
    password: &str,
) -> UserId {
    let id = UserId::new();
    let hash = crate::password::hash(password).unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(
        "INSERT INTO staff_users (id, town_id, merchant_id, email, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
    )
    .bind(id.as_uuid())
    .bind(town.as_uuid())
    .bind(merchant.map(|m| m.as_uuid()))
    .bind(email)
    .bind(role.as_str())
    .bind(hash)
    .execute(admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    id
}

/// A bearer token for this role and scope, signed by the context's key.
pub fn token(ctx: &Context, role: Role, town: TownId, merchant: Option<MerchantId>) -> String {
    ctx.jwt
        .issue(UserId::new().to_string(), role, town, merchant)
        .unwrap_or_else(|e| panic!("{}", e.message))
}

/// Runs a browser test script, `node SCRIPT ARGS...` in `dir` (playwright-core
/// driving Chromium), and checks that every step passed. The script runs on the
/// blocking pool, so a server under test on this runtime keeps serving. Both output
/// streams are printed and, on failure, put in the message: a browser that does not
/// start says so on stderr.
pub async fn browser_steps(dir: &'static str, script: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(dir).arg(script).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("node is needed: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "browser steps failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" 0 failed"));
}
