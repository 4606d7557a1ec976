use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kernel::{MerchantId, Role, TownId};
use platform::client::ClientIp;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::actor::{device_subject, require_owner_or_admin};
use crate::db::devices::{self, DeviceRow};
use crate::state::App;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(create_enrolment_code))
        .routes(routes!(enrol_device))
        .routes(routes!(unlock_device))
        .routes(routes!(list_devices))
        .routes(routes!(revoke_device))
}

fn sha(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

/// Hashes a tablet PIN (4 to 8 digits) with argon2, off the async workers.
pub async fn hash_pin(pin: &str) -> ApiResult<String> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable(
            "invalid_pin",
            "a PIN has 4 to 8 digits",
        ));
    }
    let pin = pin.to_owned();
    tokio::task::spawn_blocking(move || platform::password::hash(&pin))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

#[derive(Deserialize, ToSchema)]
pub struct EnrolmentCodeRequest {
    pub device_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct EnrolmentCode {
    /// Typed once into the new tablet; valid for 24 hours.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// Create a one-time code to enrol a tablet (the merchant's owner).
#[utoipa::path(post, path = "/redemption/v1/merchants/{id}/enrolment-codes", tag = "devices",
    params(("id" = Uuid, Path)), request_body = EnrolmentCodeRequest,
    responses((status = 201, body = EnrolmentCode), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn create_enrolment_code(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EnrolmentCodeRequest>,
) -> ApiResult<(StatusCode, ApiJson<EnrolmentCode>)> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    let name = req.device_name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_device_name",
            "1 to 100 characters",
        ));
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code: String = {
        let mut rng = rand::thread_rng();
        (0..10)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let expires_at = Utc::now() + chrono::Duration::hours(24);
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    devices::insert_enrolment(
        &mut tx,
        user.town().as_uuid(),
        id,
        &sha(&code),
        name,
        user.user_id().map(|u| u.as_uuid()),
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(EnrolmentCode { code, expires_at }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct EnrolRequest {
    /// The town's short name, e.g. `koper`.
    pub town: String,
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct Enrolled {
    pub device_id: Uuid,
    pub merchant_id: Uuid,
    /// The tablet's secret: store it on the device; it is shown only once.
    pub credential: String,
}

/// Enrol a tablet with a one-time code; returns its credential.
#[utoipa::path(post, path = "/redemption/v1/devices/enrol", tag = "devices", request_body = EnrolRequest,
    responses((status = 201, body = Enrolled), (status = 401, description = "invalid_code", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn enrol_device(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    client: ClientIp,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> ApiResult<(StatusCode, ApiJson<Enrolled>)> {
    crate::ratelimit::throttle(&ctx, &login_key(&client), app.config.login_rate).await?;
    let refused = || ApiError::unauthorized("invalid_code", "the code is wrong, used or expired");
    let town = platform::login::town_by_slug(&ctx, req.town.trim())
        .await?
        .ok_or_else(refused)?;
    let device = Uuid::now_v7();
    let mut tx = db::begin_town(&ctx.db, town).await?;
    let (merchant, name) = devices::take_enrolment(&mut tx, &sha(req.code.trim()), device)
        .await?
        .ok_or_else(refused)?;
    let secret: [u8; 32] = rand::thread_rng().r#gen();
    let credential = format!("{town}.{device}.{}", hex::encode(secret));
    devices::insert(
        &mut tx,
        device,
        town.as_uuid(),
        merchant,
        &name,
        &sha(&credential),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(device.id = %device, merchant.id = %merchant, "tablet enrolled");
    Ok((
        StatusCode::CREATED,
        ApiJson(Enrolled {
            device_id: device,
            merchant_id: merchant,
            credential,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct UnlockRequest {
    pub credential: String,
    pub email: String,
    pub pin: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Unlocked {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub device_id: Uuid,
    pub merchant_id: Uuid,
    pub staff_user_id: Uuid,
}

/// A staff member unlocks an enrolled tablet with their PIN; the token names the tablet.
#[utoipa::path(post, path = "/redemption/v1/devices/unlock", tag = "devices", request_body = UnlockRequest,
    responses((status = 200, body = Unlocked), (status = 401, description = "invalid_credentials, device_revoked", body = ErrorBody),
              (status = 423, description = "pin_locked: 5 wrong PINs in a row", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn unlock_device(
    State(ctx): State<Context>,
    Extension(app): Extension<App>,
    client: ClientIp,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> ApiResult<ApiJson<Unlocked>> {
    crate::ratelimit::throttle(&ctx, &login_key(&client), app.config.login_rate).await?;
    let refused = || {
        ApiError::unauthorized(
            "invalid_credentials",
            "wrong tablet credential, e-mail or PIN",
        )
    };
    let town: TownId = req
        .credential
        .split('.')
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(refused)?;
    let mut tx = db::begin_town(&ctx.db, town).await?;
    let (device, merchant) = devices::by_credential(&mut tx, &sha(req.credential.trim()))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "device_revoked",
                "this tablet is not enrolled or was revoked",
            )
        })?;
    let staff = devices::staff_for_pin(&mut tx, merchant, req.email.trim()).await?;
    tx.commit().await?;
    if staff.as_ref().is_some_and(|s| s.locked(Utc::now())) {
        return Err(pin_locked());
    }
    let stored = staff
        .as_ref()
        .and_then(|s| s.pin_hash.clone())
        .unwrap_or_else(|| platform::password::dummy_hash().to_owned());
    let pin = req.pin;
    let ok = tokio::task::spawn_blocking(move || platform::password::verify(&pin, &stored))
        .await
        .map_err(ApiError::internal)?;
    let Some(staff) = staff.filter(|s| s.pin_hash.is_some()) else {
        return Err(refused());
    };
    if !ok {
        let mut tx = db::begin_town(&ctx.db, town).await?;
        let failures = devices::pin_failed(&mut tx, staff.id, PIN_TRIES, PIN_LOCK_SECS).await?;
        tx.commit().await?;
        if failures >= PIN_TRIES {
            tracing::info!(staff.id = %staff.id, "PIN locked after wrong attempts");
            return Err(pin_locked());
        }
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            format!(
                "wrong tablet credential, e-mail or PIN; {} attempts left",
                PIN_TRIES - failures
            ),
        ));
    }
    if staff.pin_failures > 0 {
        let mut tx = db::begin_town(&ctx.db, town).await?;
        let cleared = devices::pin_succeeded(&mut tx, staff.id).await?;
        tx.commit().await?;
        // A lock set meanwhile by a concurrent wrong attempt still holds.
        if !cleared {
            return Err(pin_locked());
        }
    }
    let (staff_id, role) = (staff.id, staff.role);
    let role: Role = role.parse().map_err(ApiError::internal)?;
    let token = ctx.jwt.issue(
        device_subject(device, staff_id),
        role,
        town,
        Some(MerchantId::from_uuid(merchant)),
    )?;
    Ok(ApiJson(Unlocked {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: ctx.jwt.ttl_secs(),
        device_id: device,
        merchant_id: merchant,
        staff_user_id: staff_id,
    }))
}

/// Wrong PINs in a row before the PIN is locked, and for how long.
pub const PIN_TRIES: i32 = 5;
pub const PIN_LOCK_SECS: i32 = 15 * 60;

fn pin_locked() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "pin_locked",
        "too many wrong PINs: ask the shop owner to set a new PIN, or wait 15 minutes",
    )
}

/// The merchant's tablets.
#[utoipa::path(get, path = "/redemption/v1/merchants/{id}/devices", tag = "devices", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<DeviceRow>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_devices(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Vec<DeviceRow>>> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = devices::of_merchant(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}

/// Revoke a lost tablet: its credential and its open sessions stop working.
#[utoipa::path(post, path = "/redemption/v1/merchants/{id}/devices/{device_id}/revoke", tag = "devices",
    params(("id" = Uuid, Path), ("device_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_device(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((id, device)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    if !devices::revoke(&mut tx, id, device).await? {
        return Err(ApiError::not_found("device_not_found", "no such tablet"));
    }
    tx.commit().await?;
    tracing::info!(device.id = %device, "tablet revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The per-address key of PIN unlocks and enrolments (the client behind a trusted
/// proxy: `platform::client`).
fn login_key(client: &ClientIp) -> String {
    match client.0 {
        Some(ip) => format!("rl:login:{ip}"),
        None => "rl:login:unknown".into(),
    }
}
