use axum::extract::State;
use axum::http::StatusCode;
use kernel::{Iban, MerchantId, Role};
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::actor::require_owner_or_admin;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_merchants, create_merchant))
        .routes(routes!(get_merchant, update_merchant))
        .routes(routes!(add_location))
        .routes(routes!(add_staff))
        .routes(routes!(set_staff_pin))
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Merchant {
    pub id: Uuid,
    pub name: String,
    pub category: String,
    pub description: String,
    pub iban: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Location {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    #[schema(value_type = Option<String>)]
    pub latitude: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub longitude: Option<Decimal>,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantDetail {
    #[serde(flatten)]
    pub merchant: Merchant,
    pub locations: Vec<Location>,
}

const COLS: &str = "id, name, category, description, iban, phone, website";

/// Merchants of the caller's town; a merchant's own staff see only their merchant.
#[utoipa::path(get, path = "/redemption/v1/merchants", tag = "merchants",
    responses((status = 200, body = Vec<Merchant>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_merchants(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<Merchant>>> {
    user.require(&[
        Role::TownAdmin,
        Role::Auditor,
        Role::TicOperator,
        Role::MerchantOwner,
        Role::MerchantStaff,
    ])?;
    let only = user.merchant().map(|m| m.as_uuid());
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = sqlx::query_as::<_, Merchant>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM merchants WHERE $1::uuid IS NULL OR id = $1 ORDER BY name"
    )))
    .bind(only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}

#[derive(Deserialize, ToSchema)]
pub struct MerchantRequest {
    pub name: String,
    #[serde(default = "shop")]
    pub category: String,
    #[serde(default)]
    pub description: String,
    /// Validated (mod-97); payouts go here.
    #[schema(value_type = Option<String>, example = "SI56 1910 0000 0123 438")]
    pub iban: Option<Iban>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

fn shop() -> String {
    "shop".into()
}

fn validate(req: &MerchantRequest) -> ApiResult<()> {
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.len() <= max;
    if !ok(&req.name, 200) || !ok(&req.category, 40) || req.description.len() > 2000 {
        return Err(ApiError::unprocessable(
            "invalid_merchant",
            "name (≤200) and category (≤40) are required",
        ));
    }
    Ok(())
}

/// Register a merchant of the town (town admin).
#[utoipa::path(post, path = "/redemption/v1/merchants", tag = "merchants", request_body = MerchantRequest,
    responses((status = 201, body = Merchant), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_merchant(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(req): ApiJson<MerchantRequest>,
) -> ApiResult<(StatusCode, ApiJson<Merchant>)> {
    user.require(&[Role::TownAdmin])?;
    validate(&req)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let row = sqlx::query_as::<_, Merchant>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO merchants (id, town_id, name, category, description, iban, phone, website)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user.town().as_uuid())
    .bind(req.name.trim())
    .bind(req.category.trim())
    .bind(&req.description)
    .bind(req.iban.as_ref().map(|i| i.as_str().to_owned()))
    .bind(&req.phone)
    .bind(&req.website)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row)))
}

/// One merchant with its locations.
#[utoipa::path(get, path = "/redemption/v1/merchants/{id}", tag = "merchants", params(("id" = Uuid, Path)),
    responses((status = 200, body = MerchantDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_merchant(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<MerchantDetail>> {
    user.require_merchant(MerchantId::from_uuid(id))?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let merchant = sqlx::query_as::<_, Merchant>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM merchants WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("merchant_not_found", "no such merchant"))?;
    let locations = sqlx::query_as::<_, Location>(
        "SELECT id, name, address, latitude, longitude FROM merchant_locations WHERE merchant_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(MerchantDetail {
        merchant,
        locations,
    }))
}

/// Update the profile (the merchant's owner or the town admin).
#[utoipa::path(put, path = "/redemption/v1/merchants/{id}", tag = "merchants", params(("id" = Uuid, Path)),
    request_body = MerchantRequest,
    responses((status = 200, body = Merchant), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_merchant(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<MerchantRequest>,
) -> ApiResult<ApiJson<Merchant>> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    validate(&req)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let row = sqlx::query_as::<_, Merchant>(sqlx::AssertSqlSafe(format!(
        "UPDATE merchants SET name = $2, category = $3, description = $4, iban = $5, phone = $6, website = $7
         WHERE id = $1 RETURNING {COLS}"
    )))
    .bind(id)
    .bind(req.name.trim())
    .bind(req.category.trim())
    .bind(&req.description)
    .bind(req.iban.as_ref().map(|i| i.as_str().to_owned()))
    .bind(&req.phone)
    .bind(&req.website)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("merchant_not_found", "no such merchant"))?;
    tx.commit().await?;
    Ok(ApiJson(row))
}

#[derive(Deserialize, ToSchema)]
pub struct LocationRequest {
    pub name: String,
    pub address: String,
    #[schema(value_type = Option<String>)]
    pub latitude: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub longitude: Option<Decimal>,
}

/// Add a location (shop) of the merchant.
#[utoipa::path(post, path = "/redemption/v1/merchants/{id}/locations", tag = "merchants", params(("id" = Uuid, Path)),
    request_body = LocationRequest, responses((status = 201, body = Location), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_location(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<LocationRequest>,
) -> ApiResult<(StatusCode, ApiJson<Location>)> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    let lat_ok = req.latitude.is_none_or(|l| l.abs() <= Decimal::from(90));
    let lon_ok = req.longitude.is_none_or(|l| l.abs() <= Decimal::from(180));
    if req.name.trim().is_empty() || req.address.trim().is_empty() || !lat_ok || !lon_ok {
        return Err(ApiError::unprocessable(
            "invalid_location",
            "name, address and valid coordinates are required",
        ));
    }
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let row = sqlx::query_as::<_, Location>(
        "INSERT INTO merchant_locations (id, town_id, merchant_id, name, address, latitude, longitude)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, name, address, latitude, longitude",
    )
    .bind(Uuid::now_v7())
    .bind(user.town().as_uuid())
    .bind(id)
    .bind(req.name.trim())
    .bind(req.address.trim())
    .bind(req.latitude)
    .bind(req.longitude)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row)))
}

#[derive(Deserialize, ToSchema)]
pub struct StaffRequest {
    pub email: String,
    pub display_name: String,
    /// For logging in on a laptop; at least 10 characters.
    pub password: String,
    /// 4 to 8 digits, to unlock the shop's tablets.
    pub pin: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Staff {
    pub id: Uuid,
    pub email: String,
}

/// Add a staff member (the merchant's owner), optionally with a tablet PIN.
#[utoipa::path(post, path = "/redemption/v1/merchants/{id}/staff", tag = "merchants", params(("id" = Uuid, Path)),
    request_body = StaffRequest, responses((status = 201, body = Staff), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_staff(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StaffRequest>,
) -> ApiResult<(StatusCode, ApiJson<Staff>)> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    if !req.email.contains('@') || req.password.len() < 10 || req.display_name.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_staff",
            "an e-mail, a name and a password of 10+ characters",
        ));
    }
    let pin_hash = match &req.pin {
        Some(pin) => Some(crate::routes::devices::hash_pin(pin).await?),
        None => None,
    };
    let pw = req.password.clone();
    let hash = tokio::task::spawn_blocking(move || platform::password::hash(&pw))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let staff = Uuid::now_v7();
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    sqlx::query(
        "INSERT INTO staff_users (id, town_id, merchant_id, email, display_name, role, password_hash, pin_hash)
         VALUES ($1, $2, $3, $4, $5, 'merchant_staff', $6, $7)",
    )
    .bind(staff)
    .bind(user.town().as_uuid())
    .bind(id)
    .bind(req.email.trim())
    .bind(req.display_name.trim())
    .bind(hash)
    .bind(pin_hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Staff {
            id: staff,
            email: req.email.trim().to_owned(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct PinRequest {
    /// 4 to 8 digits.
    pub pin: String,
}

/// Set a staff member's tablet PIN (the merchant's owner); this also lifts a PIN
/// locked after too many wrong tries.
#[utoipa::path(put, path = "/redemption/v1/merchants/{id}/staff/{staff_id}/pin", tag = "merchants",
    params(("id" = Uuid, Path), ("staff_id" = Uuid, Path)), request_body = PinRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, description = "invalid_pin", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_staff_pin(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((id, staff)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<PinRequest>,
) -> ApiResult<StatusCode> {
    require_owner_or_admin(&user, MerchantId::from_uuid(id))?;
    let hash = crate::routes::devices::hash_pin(&req.pin).await?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    if !crate::db::devices::set_pin(&mut tx, id, staff, &hash).await? {
        return Err(ApiError::not_found(
            "staff_not_found",
            "no such staff member at this merchant",
        ));
    }
    tx.commit().await?;
    tracing::info!(staff.id = %staff, "tablet PIN set");
    Ok(StatusCode::NO_CONTENT)
}
