use std::collections::HashMap;
use std::sync::Arc;

use chrono_tz::Tz;
use ed25519_dalek::VerifyingKey;
use sqlx::PgConnection;
use uuid::Uuid;

/// What scanning needs of a town: its code, time zone and QR verifying keys.
#[derive(Clone, Debug)]
pub struct TownInfo {
    pub code: u16,
    pub tz: Tz,
    pub keys: Arc<HashMap<String, VerifyingKey>>,
}

pub async fn load(conn: &mut PgConnection, town: Uuid) -> Result<Option<TownInfo>, sqlx::Error> {
    let row: Option<(i16, String)> =
        sqlx::query_as("SELECT code, timezone FROM towns WHERE id = $1")
            .bind(town)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((code, tz)) = row else {
        return Ok(None);
    };
    let keys: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM town_keys
         WHERE town_id = $1 AND purpose = 'qr' AND revoked_at IS NULL",
    )
    .bind(town)
    .fetch_all(&mut *conn)
    .await?;
    let keys = keys
        .into_iter()
        .filter_map(|(kid, pk)| {
            let bytes: [u8; 32] = pk.as_slice().try_into().ok()?;
            VerifyingKey::from_bytes(&bytes).ok().map(|k| (kid, k))
        })
        .collect();
    Ok(Some(TownInfo {
        code: u16::try_from(code).unwrap_or(0),
        tz: tz.parse().unwrap_or(chrono_tz::Europe::Ljubljana),
        keys: Arc::new(keys),
    }))
}
