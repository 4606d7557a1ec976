//! Offline redemption: the pack a tablet caches to keep working without the
//! network (town keys, its offers' rules, the town's cards).

use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use kernel::{Money, Percent};
use platform::{ApiError, ApiResult};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actor::Actor;
use crate::db::{offline, promotions};
use crate::state::Config;

/// How long a pack lasts, and how old an offline item may be when it is synced.
pub const OFFLINE_WINDOW_HOURS: i64 = 72;

#[derive(Serialize, ToSchema)]
pub struct PackTown {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub code: i16,
    pub time_zone: String,
}

#[derive(Serialize, ToSchema)]
pub struct PackNamed {
    pub id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PackKey {
    pub kid: String,
    /// base64url without padding of the 32 raw Ed25519 bytes.
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct PackOffer {
    pub promotion_id: Uuid,
    pub name: String,
    pub own_offer: bool,
    #[schema(value_type = String, example = "50")]
    pub co_financing_percent: Percent,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// The promotion's rules JSON as stored (docs/redemption.md "Promotion rules").
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Allowance {
    /// Offline redemptions per tablet per local day.
    pub count: u32,
    /// The municipality's share they may add up to per tablet per local day.
    #[schema(value_type = String, example = "100.00")]
    pub amount: Money,
}

#[derive(Serialize, ToSchema)]
pub struct OfflinePack {
    pub issued_at: DateTime<Utc>,
    /// Offline redemptions after this are refused by the app.
    pub valid_until: DateTime<Utc>,
    pub town: PackTown,
    pub merchant: PackNamed,
    pub device: PackNamed,
    pub keys: Vec<PackKey>,
    pub offers: Vec<PackOffer>,
    /// `[id, number, token_serial, product_code, status, expires_at|null]` per card.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub cards: Vec<offline::PackCard>,
    pub allowance: Allowance,
}

/// The tablet named in the session token (403 `device_required` for any other).
pub fn device_of(actor: &Actor) -> ApiResult<Uuid> {
    actor.device.ok_or_else(|| {
        ApiError::forbidden(
            "device_required",
            "only an enrolled tablet's session can do this",
        )
    })
}

pub fn revoked() -> ApiError {
    ApiError::unauthorized("device_revoked", "this tablet has been revoked")
}

pub async fn pack(
    conn: &mut PgConnection,
    actor: &Actor,
    config: &Config,
    now: DateTime<Utc>,
) -> ApiResult<OfflinePack> {
    let device = device_of(actor)?;
    let merchant = actor.merchant.as_uuid();
    let (merchant_name, device_name) = offline::device_names(conn, merchant, device)
        .await?
        .ok_or_else(revoked)?;
    let town = offline::town(conn, actor.town.as_uuid())
        .await?
        .ok_or_else(|| ApiError::not_found("town_not_found", "no such town"))?;
    let tz: Tz = town
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::Ljubljana);
    let valid_until = now + Duration::hours(OFFLINE_WINDOW_HOURS);
    let (today, last_day) = (
        now.with_timezone(&tz).date_naive(),
        valid_until.with_timezone(&tz).date_naive(),
    );
    let keys = offline::qr_keys(conn)
        .await?
        .into_iter()
        .filter(|(_, pk)| pk.len() == 32)
        .map(|(kid, pk)| PackKey {
            kid,
            public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pk),
        })
        .collect();
    // Only offers the app could use before the pack runs out.
    let offers = promotions::offers_of(conn, merchant)
        .await?
        .into_iter()
        .filter(|p| p.ends_on >= today && p.starts_on <= last_day)
        .filter_map(|p| {
            Some(PackOffer {
                co_financing_percent: Percent::try_from_decimal(p.co_financing_percent).ok()?,
                own_offer: p.owner_merchant_id.is_some(),
                promotion_id: p.id,
                name: p.name,
                starts_on: p.starts_on,
                ends_on: Some(p.ends_on),
                rules: p.rules,
            })
        })
        .collect();
    let cards = offline::cards(conn).await?;
    Ok(OfflinePack {
        issued_at: now,
        valid_until,
        town: PackTown {
            id: town.id,
            slug: town.slug,
            name: town.name,
            code: town.code,
            time_zone: town.timezone,
        },
        merchant: PackNamed {
            id: merchant,
            name: merchant_name,
        },
        device: PackNamed {
            id: device,
            name: device_name,
        },
        keys,
        offers,
        cards,
        allowance: Allowance {
            count: config.offline_max_count,
            amount: config.offline_max_amount,
        },
    })
}
