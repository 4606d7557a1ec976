//! Redis pub/sub: card-issuing announces card changes on `towncard.cards`; this
//! service announces promotion changes on `towncard.promotions` (and a tourist
//! card activated at first scan on `towncard.cards`). Receivers only drop cache
//! entries: Postgres stays the truth.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use redis::aio::ConnectionManager;
use towncard_proto::events::{CardChanged, PromotionChanged};
use uuid::Uuid;

use crate::state::App;

pub const CARDS: &str = "towncard.cards";
pub const PROMOTIONS: &str = "towncard.promotions";

/// Runs for the life of the process: (re)subscribes and applies invalidations.
pub fn spawn_subscriber(app: App, url: String) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = subscribe(&app, &url).await {
                tracing::debug!(error = %e, "event subscription lost");
            }
            app.cache.live.store(false, Ordering::Relaxed);
            app.cache.clear();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn subscribe(app: &App, url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CARDS).await?;
    pubsub.subscribe(PROMOTIONS).await?;
    app.cache.clear();
    app.cache.live.store(true, Ordering::Relaxed);
    let mut stream = pubsub.on_message();
    while let Some(msg) = stream.next().await {
        let payload = msg.get_payload_bytes();
        match msg.get_channel_name() {
            CARDS => {
                if let Ok(ev) = CardChanged::decode(payload)
                    && let Ok(bytes) = <[u8; 16]>::try_from(ev.card_id.as_slice())
                {
                    app.cache.forget_card(Uuid::from_bytes(bytes));
                }
            }
            PROMOTIONS => {
                if let Ok(ev) = PromotionChanged::decode(payload)
                    && let Ok(bytes) = <[u8; 16]>::try_from(ev.town_id.as_slice())
                {
                    app.cache.forget_offers(Uuid::from_bytes(bytes));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

async fn publish(redis: &ConnectionManager, channel: &str, payload: Vec<u8>) {
    let mut conn = redis.clone();
    let sent = tokio::time::timeout(
        Duration::from_millis(100),
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut conn),
    )
    .await;
    if !matches!(sent, Ok(Ok(_))) {
        tracing::debug!(
            channel,
            "event not published (Redis unavailable); caches expire by TTL"
        );
    }
}

pub async fn promotion_changed(redis: &ConnectionManager, town: Uuid, promotion: Uuid) {
    let ev = PromotionChanged {
        town_id: town.as_bytes().to_vec(),
        promotion_id: promotion.as_bytes().to_vec(),
        at_ms: chrono::Utc::now().timestamp_millis(),
    };
    publish(redis, PROMOTIONS, ev.encode_to_vec()).await;
}

pub async fn card_activated(redis: &ConnectionManager, town: Uuid, card: Uuid, serial: i32) {
    let ev = CardChanged {
        town_id: town.as_bytes().to_vec(),
        card_id: card.as_bytes().to_vec(),
        change: "activated".into(),
        token_serial: serial.max(0) as u32,
        at_ms: chrono::Utc::now().timestamp_millis(),
    };
    publish(redis, CARDS, ev.encode_to_vec()).await;
}
