use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use kernel::Role;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::keys::KeyRow;
use crate::domain::keys;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_public_keys))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Serialize, ToSchema)]
pub struct PublicKey {
    pub kid: String,
    /// Always `Ed25519`.
    pub alg: String,
    /// The 32-byte public key, base64url without padding.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    /// Set when the key stopped signing new tokens; it still verifies.
    pub retired_at: Option<DateTime<Utc>>,
    /// Set when the key stopped verifying (admin listing only).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for PublicKey {
    fn from(r: KeyRow) -> Self {
        PublicKey {
            kid: r.kid,
            alg: "Ed25519".into(),
            public_key: URL_SAFE_NO_PAD.encode(&r.public_key),
            created_at: r.created_at,
            retired_at: r.retired_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TownKeys {
    pub town: String,
    /// The town code carried in every token of this town.
    pub town_code: u16,
    /// Every key that verifies now; tablets cache these to verify offline.
    pub keys: Vec<PublicKey>,
}

/// A town's QR verification keys (public: tablets fetch them to verify offline).
#[utoipa::path(get, path = "/issuing/v1/towns/{slug}/keys", tag = "keys",
    params(("slug" = String, Path, description = "the town's slug, e.g. koper")),
    responses((status = 200, body = TownKeys), (status = 404, description = "town_not_found", body = ErrorBody)))]
async fn list_public_keys(
    State(ctx): State<Context>,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<ApiJson<TownKeys>> {
    let mut conn = ctx.db.acquire().await?;
    let town = crate::db::towns::by_slug(&mut conn, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("town_not_found", "no such town"))?;
    drop(conn);
    let mut tx = db::begin_town(&ctx.db, town.town()).await?;
    let rows = crate::db::keys::list(&mut tx, town.town()).await?;
    tx.commit().await?;
    Ok(ApiJson(TownKeys {
        town: town.slug.clone(),
        town_code: town.code(),
        keys: rows
            .into_iter()
            .filter(|r| r.revoked_at.is_none())
            .map(PublicKey::from)
            .collect(),
    }))
}

/// Every QR key of the caller's town, revoked ones included.
#[utoipa::path(get, path = "/issuing/v1/keys", tag = "keys",
    responses((status = 200, body = Vec<PublicKey>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_keys(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<PublicKey>>> {
    user.require(&[Role::TownAdmin, Role::Auditor])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = crate::db::keys::list(&mut tx, user.town()).await?;
    tx.commit().await?;
    Ok(ApiJson(rows.into_iter().map(PublicKey::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Stop older keys signing (they keep verifying until revoked). Default true.
    #[serde(default = "yes")]
    pub retire_others: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub kid: String,
}

/// Rotates the town's QR signing key: a new key signs from now on.
#[utoipa::path(post, path = "/issuing/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_key(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedKey>)> {
    user.require(&[Role::TownAdmin])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let kid = keys::generate(&mut tx, user.town(), &super::kek(&ctx)?, body.retire_others).await?;
    tx.commit().await?;
    tracing::info!(key.kid = %kid, "town QR key created");
    Ok((StatusCode::CREATED, ApiJson(CreatedKey { kid })))
}

/// Revokes a key: tokens it signed stop verifying (reprint those cards).
#[utoipa::path(post, path = "/issuing/v1/keys/{kid}/revoke", tag = "keys",
    params(("kid" = String, Path)),
    responses((status = 204), (status = 404, description = "key_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_key(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(kid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    user.require(&[Role::TownAdmin])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    if !crate::db::keys::revoke(&mut tx, user.town(), &kid).await? {
        return Err(ApiError::not_found(
            "key_not_found",
            "no such key in this town",
        ));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
