//! Staff login: town + e-mail + password (argon2) → a town-scoped access token.

use axum::extract::State;
use kernel::{MerchantId, Role, TownId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::client::ClientIp;
use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::ratelimit::{Rate, throttle};
use crate::serve::Context;
use crate::{db, password};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The town's short name, e.g. `koper`.
    pub town: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub role: String,
    #[schema(value_type = String, format = Uuid)]
    pub town_id: TownId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub merchant_id: Option<MerchantId>,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub sub: String,
    pub role: String,
    #[schema(value_type = String, format = Uuid)]
    pub town_id: TownId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub merchant_id: Option<MerchantId>,
    pub expires_at: i64,
}

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(me))
}

/// Town id by slug; the town directory is readable without a town set.
pub async fn town_by_slug(ctx: &Context, slug: &str) -> ApiResult<Option<TownId>> {
    let id: Option<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM towns WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&ctx.db)
        .await?;
    Ok(id.map(TownId::from_uuid))
}

/// Log in as a staff user of a town.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, description = "invalid_credentials", body = ErrorBody),
              (status = 429, description = "rate_limited: too many logins from this address", body = ErrorBody)))]
async fn login(
    State(ctx): State<Context>,
    ClientIp(client): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<ApiJson<LoginResponse>> {
    if let Some(ip) = client
        && ctx.settings.auth.login_per_minute > 0
    {
        let rate = Rate {
            per_minute: ctx.settings.auth.login_per_minute,
            burst: ctx.settings.auth.login_burst,
        };
        throttle(&ctx, &format!("rl:pwlogin:{ip}"), rate).await?;
    }
    let refused =
        || ApiError::unauthorized("invalid_credentials", "wrong town, e-mail or password");
    let town = town_by_slug(&ctx, req.town.trim()).await?;
    let user = match town {
        Some(town) => {
            let mut tx = db::begin_town(&ctx.db, town).await?;
            let row: Option<(uuid::Uuid, Option<uuid::Uuid>, String, String)> = sqlx::query_as(
                "SELECT id, merchant_id, role, password_hash FROM staff_users
                 WHERE lower(email) = lower($1) AND disabled_at IS NULL",
            )
            .bind(req.email.trim())
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            row.map(|r| (town, r))
        }
        None => None,
    };
    let stored = user
        .as_ref()
        .map(|(_, r)| r.3.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let pw = req.password;
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
        .await
        .map_err(ApiError::internal)?;
    let Some((town, (id, merchant, role, _))) = user.filter(|_| ok) else {
        return Err(refused());
    };
    let role: Role = role.parse().map_err(ApiError::internal)?;
    let merchant = merchant.map(MerchantId::from_uuid);
    let token = ctx
        .jwt
        .issue(UserId::from_uuid(id).to_string(), role, town, merchant)?;
    tracing::info!(user.id = %id, user.role = role.as_str(), "staff login");
    Ok(ApiJson(LoginResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: ctx.jwt.ttl_secs(),
        role: role.as_str().into(),
        town_id: town,
        merchant_id: merchant,
    }))
}

/// Who the bearer token says the caller is.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn me(user: AuthUser) -> ApiJson<Me> {
    ApiJson(Me {
        sub: user.0.sub.clone(),
        role: user.role().as_str().into(),
        town_id: user.town(),
        merchant_id: user.merchant(),
        expires_at: user.0.exp,
    })
}
