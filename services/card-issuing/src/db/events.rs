use chrono::{DateTime, Utc};
use kernel::TownId;
use sqlx::PgConnection;

#[derive(sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct CardEvent {
    pub change: String,
    pub token_serial: i32,
    pub actor_id: String,
    pub actor_role: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

pub struct NewEvent<'a> {
    pub town: TownId,
    pub card_id: uuid::Uuid,
    pub change: &'a str,
    pub token_serial: i32,
    pub actor_id: &'a str,
    pub actor_role: &'a str,
    pub reason: &'a str,
}

pub async fn insert(conn: &mut PgConnection, e: &NewEvent<'_>) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO card_events (id, town_id, card_id, change, token_serial, actor_id, actor_role, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING at",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(e.town.as_uuid())
    .bind(e.card_id)
    .bind(e.change)
    .bind(e.token_serial)
    .bind(e.actor_id)
    .bind(e.actor_role)
    .bind(e.reason)
    .fetch_one(conn)
    .await
}

/// The same change for many cards at once (a print batch).
pub async fn insert_many(
    conn: &mut PgConnection,
    town: TownId,
    card_ids: &[uuid::Uuid],
    change: &str,
    actor_id: &str,
    actor_role: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO card_events (id, town_id, card_id, change, token_serial, actor_id, actor_role)
         SELECT gen_random_uuid(), $1, c, $3, 1, $4, $5 FROM unnest($2::uuid[]) AS c",
    )
    .bind(town.as_uuid())
    .bind(card_ids)
    .bind(change)
    .bind(actor_id)
    .bind(actor_role)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn for_card(
    conn: &mut PgConnection,
    card_id: uuid::Uuid,
) -> sqlx::Result<Vec<CardEvent>> {
    sqlx::query_as(
        "SELECT change, token_serial, actor_id, actor_role, reason, at FROM card_events
         WHERE card_id = $1 ORDER BY at, id",
    )
    .bind(card_id)
    .fetch_all(conn)
    .await
}
