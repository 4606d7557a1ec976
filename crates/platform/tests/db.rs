//! `begin_town` against a real, migrated database.

use kernel::TownId;
use platform::db::begin_town;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[sqlx::test(migrations = "../../migrations")]
async fn a_town_transaction_sees_its_town_and_leaves_none_on_the_connection(admin: PgPool) {
    // One connection, so the next use is surely the same one.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin.connect_options().as_ref().clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let current = "SELECT current_town()";
    for town in [TownId::new(), TownId::new()] {
        let mut tx = begin_town(&pool, town)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let seen: Option<uuid::Uuid> = sqlx::query_scalar(current)
            .fetch_one(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seen, Some(town.as_uuid()));
        tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
        let after: Option<uuid::Uuid> = sqlx::query_scalar(current)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after, None, "the town stayed on the connection");
    }
    // Rolled back (dropped) as well.
    let town = TownId::new();
    drop(
        begin_town(&pool, town)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let after: Option<uuid::Uuid> = sqlx::query_scalar(current)
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after, None);
}
