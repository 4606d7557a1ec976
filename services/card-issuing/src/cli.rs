//! Helpers for the admin CLI (`towncard keys town-qr`).

use kernel::TownId;
use sqlx::PgConnection;

use crate::domain::keys;

/// Creates a new QR signing key for the town with this slug, sealed with the
/// settings' key-encryption key; older keys stop signing and keep verifying.
pub async fn create_town_qr_key(
    conn: &mut PgConnection,
    slug: &str,
    settings: &platform::Settings,
) -> anyhow::Result<String> {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM towns WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no town {slug:?}"))?;
    let kek = keys::Kek::from_settings(settings).map_err(|e| anyhow::anyhow!(e.message))?;
    keys::generate(conn, TownId::from_uuid(id), &kek, true)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))
}
