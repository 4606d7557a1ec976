//! Announces committed card changes on Redis (`towncard.cards`), as protobuf
//! `towncard.events.v1.CardChanged`. Receivers treat them as cache hints; a lost
//! message is logged, never fatal: Postgres stays the truth.

use chrono::{DateTime, Utc};
use kernel::TownId;
use prost::Message;
use towncard_proto::events::CardChanged;

pub const CHANNEL: &str = "towncard.cards";

pub struct Changed {
    pub town: TownId,
    pub card_id: uuid::Uuid,
    pub change: &'static str,
    pub token_serial: i32,
    pub at: DateTime<Utc>,
}

pub fn encode(c: &Changed) -> Vec<u8> {
    CardChanged {
        town_id: c.town.as_uuid().as_bytes().to_vec(),
        card_id: c.card_id.as_bytes().to_vec(),
        change: c.change.to_owned(),
        token_serial: u32::try_from(c.token_serial).unwrap_or_default(),
        at_ms: c.at.timestamp_millis(),
    }
    .encode_to_vec()
}

/// Publishes the changes in one pipeline; call only after the transaction committed.
pub async fn publish(redis: &redis::aio::ConnectionManager, changes: &[Changed]) {
    if changes.is_empty() {
        return;
    }
    let mut conn = redis.clone();
    let mut pipe = redis::pipe();
    for c in changes {
        pipe.cmd("PUBLISH").arg(CHANNEL).arg(encode(c)).ignore();
    }
    let sent: Result<(), _> = pipe.query_async(&mut conn).await;
    if let Err(e) = sent {
        tracing::warn!(changes = changes.len(), error = %e, "card changes not announced");
    }
}
