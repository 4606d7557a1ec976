use kernel::TownId;
use sqlx::PgConnection;

#[derive(sqlx::FromRow, Clone)]
pub struct TownRow {
    pub id: uuid::Uuid,
    pub slug: String,
    pub code: i16,
    pub name: String,
}

impl TownRow {
    pub fn town(&self) -> TownId {
        TownId::from_uuid(self.id)
    }

    pub fn code(&self) -> u16 {
        u16::try_from(self.code).unwrap_or_default()
    }
}

pub async fn by_id(conn: &mut PgConnection, town: TownId) -> sqlx::Result<Option<TownRow>> {
    sqlx::query_as("SELECT id, slug, code, name FROM towns WHERE id = $1")
        .bind(town.as_uuid())
        .fetch_optional(conn)
        .await
}

pub async fn by_slug(conn: &mut PgConnection, slug: &str) -> sqlx::Result<Option<TownRow>> {
    sqlx::query_as("SELECT id, slug, code, name FROM towns WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await
}

/// The town of a visitor page code (a security-definer lookup; see the migration).
pub async fn of_page_code(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<TownId>> {
    let id: Option<uuid::Uuid> = sqlx::query_scalar("SELECT card_page_town($1)")
        .bind(code)
        .fetch_one(conn)
        .await?;
    Ok(id.map(TownId::from_uuid))
}
