//! Schema migrations: one owner (this command), run with the owner's connection.

use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Creates the database if it is missing, then applies pending migrations.
pub async fn migrate(admin_url: &str) -> anyhow::Result<PgPool> {
    if !Postgres::database_exists(admin_url).await.unwrap_or(false) {
        Postgres::create_database(admin_url).await?;
    }
    let pool = PgPool::connect(admin_url).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
