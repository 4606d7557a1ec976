//! Postgres pools and the tenant transaction.

use std::time::Duration;

use kernel::TownId;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::settings::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach Postgres at {target}: {cause}")]
    Unreachable { target: String, cause: String },
    #[error("database URL is not valid: {0}")]
    BadUrl(String),
}

/// Host, port, database and user, without any password: safe to print.
pub fn describe(opts: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{} as {}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("?"),
        opts.get_username()
    )
}

pub async fn connect(url: &str, s: &DatabaseSettings) -> Result<PgPool, DbError> {
    let opts: PgConnectOptions = url
        .parse()
        .map_err(|e: sqlx::Error| DbError::BadUrl(e.to_string()))?;
    let target = describe(&opts);
    PgPoolOptions::new()
        .max_connections(s.max_connections)
        .acquire_timeout(Duration::from_secs(s.acquire_timeout_secs))
        .connect_with(opts)
        .await
        .map_err(|e| DbError::Unreachable {
            target,
            cause: e.to_string(),
        })
}

/// Begins a transaction scoped to one town: row-level security shows and accepts
/// only that town's rows until commit or rollback. The setting is transaction-local
/// (`SET LOCAL`), so a pooled connection never carries a town over. Both go in one
/// round trip; the town is a UUID (hex digits and dashes), so it can be written into
/// the statement. Should the `SET` fail, the transaction is not open and this errs.
pub async fn begin_town(
    pool: &PgPool,
    town: TownId,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let uuid: uuid::Uuid = town.as_uuid();
    pool.begin_with(sqlx::AssertSqlSafe(format!(
        "BEGIN; SET LOCAL towncard.town_id = '{}'",
        uuid.hyphenated()
    )))
    .await
}

/// A pool to the same database as `admin`, logged in as `role` (tests use it to act
/// as the service role on a per-test database).
pub async fn connect_as(admin: &PgPool, role: &str) -> Result<PgPool, sqlx::Error> {
    let opts = admin.connect_options().as_ref().clone().username(role);
    PgPoolOptions::new()
        .max_connections(20)
        .connect_with(opts)
        .await
}
