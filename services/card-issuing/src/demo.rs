//! The demo town's QR key and card tokens (called by `towncard seed-demo`).

use kernel::{CardNumber, TownId};
use sqlx::PgConnection;

use crate::domain::{issue, keys};

/// A demo card to show: its number, visitor page code and QR payload.
pub struct DemoCard {
    pub number: String,
    pub page_code: String,
    pub token: String,
}

/// Gives the town a QR signing key if it has none and returns the first demo card
/// with its page code and token. Idempotent; runs on the owner's connection, so
/// every query names the town.
pub async fn seed_keys_and_tokens(
    conn: &mut PgConnection,
    town: TownId,
    settings: &platform::Settings,
) -> anyhow::Result<Option<DemoCard>> {
    let kek = keys::Kek::from_settings(settings).map_err(|e| anyhow::anyhow!(e.message))?;
    let (kid, key) = keys::signer(conn, town, &kek)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let card: Option<(uuid::Uuid, String, String, i32, i16)> = sqlx::query_as(
        "SELECT c.id, c.number, c.page_code, c.token_serial, t.code FROM cards c
         JOIN towns t ON t.id = c.town_id
         WHERE c.town_id = $1 ORDER BY c.serial LIMIT 1",
    )
    .bind(town.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(card.map(|(id, number, page_code, serial, code)| DemoCard {
        number: CardNumber::parse(&number)
            .map(|n| n.to_string())
            .unwrap_or(number),
        page_code,
        token: issue::token(
            u16::try_from(code).unwrap_or_default(),
            id,
            serial,
            &kid,
            &key,
        ),
    }))
}
