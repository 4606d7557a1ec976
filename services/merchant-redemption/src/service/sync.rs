//! Offline sync: each queued item is re-checked by `redeem::redeem` with the time it
//! happened, in its own transaction, and its outcome stored, so the same item sent
//! again (a batch twice, half a batch then all) answers the same and writes nothing.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kernel::Money;
use platform::{ApiError, ApiResult, Context, db};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Acquire, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use super::card::{self, CardRef};
use super::offline::{OFFLINE_WINDOW_HOURS, revoked};
use super::receipt::{self, Receipt};
use super::redeem::{self, Outcome, Request};
use crate::actor::Actor;
use crate::db::{devices, offline, redemptions};
use crate::state::App;

/// Items per sync request.
pub const MAX_ITEMS: usize = 200;
/// How far ahead of the server's clock a tablet's clock may be.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// One queued offline redemption, as the tablet sent it.
pub struct Item {
    pub id: Uuid,
    pub token: Option<String>,
    pub card_number: Option<String>,
    pub promotion: Uuid,
    /// The basket as sent (part of the fingerprint), and parsed.
    pub basket_text: String,
    pub basket: ApiResult<Money>,
    pub occurred_at: DateTime<Utc>,
}

impl Item {
    /// What the same id must carry to be the same item.
    fn hash(&self) -> Vec<u8> {
        let basket = match &self.basket {
            Ok(m) => m.to_string(),
            Err(_) => self.basket_text.trim().to_owned(),
        };
        let text = format!(
            "t:{}|n:{}|{}|{}|{}",
            self.token.as_deref().unwrap_or_default().trim(),
            self.card_number.as_deref().unwrap_or_default().trim(),
            self.promotion,
            basket,
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        Sha256::digest(text.as_bytes()).to_vec()
    }
}

#[derive(Serialize, ToSchema)]
pub struct ItemResult {
    pub id: Uuid,
    /// accepted or rejected.
    pub status: &'static str,
    /// The redemption's receipt (accepted items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Why it was rejected, e.g. `card_daily_limit_reached` (rejected items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ItemResult {
    fn accepted(id: Uuid, receipt: Receipt) -> Self {
        ItemResult {
            id,
            status: "accepted",
            receipt: Some(receipt),
            code: None,
            message: None,
        }
    }

    fn rejected(id: Uuid, code: String, message: String) -> Self {
        ItemResult {
            id,
            status: "rejected",
            receipt: None,
            code: Some(code),
            message: Some(message),
        }
    }
}

/// An error that stops the whole batch (items already answered stay stored):
/// the tablet was revoked, or the server could not decide (5xx, retry later).
fn stops_batch(e: &ApiError) -> bool {
    e.status.is_server_error() || e.code == "device_revoked"
}

/// Refuses the whole batch of a revoked tablet before anything is written.
pub async fn check_device(conn: &mut PgConnection, device: Uuid) -> ApiResult<()> {
    if devices::is_active(conn, device).await? {
        Ok(())
    } else {
        Err(revoked())
    }
}

pub async fn sync_item(
    app: &App,
    ctx: &Context,
    actor: &Actor,
    device: Uuid,
    item: &Item,
    now: DateTime<Utc>,
) -> ApiResult<ItemResult> {
    let hash = item.hash();
    let _gate = app.budget_gate(item.promotion).await;
    let mut tx = db::begin_town(&ctx.db, actor.town).await?;
    offline::lock_item(&mut tx, device, item.id).await?;
    if let Some(prev) = offline::synced(&mut tx, device, item.id).await? {
        let result = if prev.request_hash != hash {
            ItemResult::rejected(
                item.id,
                "idempotency_conflict".into(),
                "this item id was already synced with different contents".into(),
            )
        } else if let Some(rid) = prev.redemption_id {
            ItemResult::accepted(item.id, receipt::load(&mut tx, rid, true).await?)
        } else {
            ItemResult::rejected(
                item.id,
                prev.code.unwrap_or_default(),
                prev.message.unwrap_or_default(),
            )
        };
        tx.commit().await?;
        return Ok(result);
    }
    let mut attempt_tx = (&mut *tx).begin().await?;
    let attempt = attempt(app, ctx, &mut attempt_tx, actor, device, item, now).await;
    let mut new = offline::NewItem {
        town: actor.town.as_uuid(),
        device,
        id: item.id,
        request_hash: &hash,
        occurred_at: item.occurred_at,
        redemption: None,
        code: None,
        message: None,
    };
    let result = match attempt {
        Ok(rid) => {
            attempt_tx.commit().await?;
            new.redemption = Some(rid);
            offline::record(&mut tx, &new).await?;
            ItemResult::accepted(item.id, receipt::load(&mut tx, rid, false).await?)
        }
        Err(e) if stops_batch(&e) => return Err(e),
        Err(e) => {
            attempt_tx.rollback().await?;
            new.code = Some(e.code);
            new.message = Some(&e.message);
            offline::record(&mut tx, &new).await?;
            ItemResult::rejected(item.id, e.code.to_owned(), e.message.clone())
        }
    };
    tx.commit().await?;
    Ok(result)
}

/// The redemption the item makes, or why not.
async fn attempt(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    actor: &Actor,
    device: Uuid,
    item: &Item,
    now: DateTime<Utc>,
) -> ApiResult<Uuid> {
    let basket = item.basket.as_ref().map_err(|e| ApiError {
        status: e.status,
        code: e.code,
        message: e.message.clone(),
    })?;
    if item.occurred_at > now + Duration::seconds(MAX_SKEW_SECS) {
        return Err(ApiError::unprocessable(
            "offline_clock_skew",
            "this redemption is dated in the future; check the tablet's clock",
        ));
    }
    if item.occurred_at < now - Duration::hours(OFFLINE_WINDOW_HOURS) {
        return Err(ApiError::unprocessable(
            "offline_item_stale",
            format!("offline redemptions older than {OFFLINE_WINDOW_HOURS} hours are not accepted"),
        ));
    }
    let key = format!("offline:{device}:{}", item.id);
    let request = Request {
        key: &key,
        card: CardRef::from_request(item.token.as_deref(), item.card_number.as_deref())?,
        promotion: item.promotion,
        basket: *basket,
    };
    let id = match redeem::redeem(app, ctx, conn, actor, &request, item.occurred_at).await? {
        Outcome::Done(id) => id,
        // Only if the outcome row was lost; the allowance was taken then.
        Outcome::Replayed(id) => return Ok(id),
    };
    let municipality: Decimal = redemptions::by_id(conn, id)
        .await?
        .map(|r| r.municipality_share)
        .unwrap_or_default();
    let tz = card::town_info(app, conn, actor.town, false).await?.tz;
    let day = item.occurred_at.with_timezone(&tz).date_naive();
    let max_count = i32::try_from(app.config.offline_max_count).unwrap_or(i32::MAX);
    if !offline::take_allowance(
        conn,
        actor.town.as_uuid(),
        device,
        day,
        municipality,
        max_count,
        app.config.offline_max_amount.amount(),
    )
    .await?
    {
        return Err(ApiError::conflict(
            "offline_allowance_exceeded",
            "this tablet's offline allowance for that day is used up",
        ));
    }
    Ok(id)
}
