//! Staff access tokens: EdDSA-signed JWTs with `kid`, checked per RFC 8725 —
//! one allowed algorithm, known key ids only, and `iss`, `aud`, `exp` required.
//! Every token is scoped to one town (and, for merchant roles, one merchant).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kernel::{MerchantId, Role, TownId, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::settings::AuthSettings;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The staff user (or device) id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub role: Role,
    pub town: TownId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<MerchantId>,
}

/// The signing key and every key that may verify (rotation keeps old ones here).
pub struct JwtKeys {
    active_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    /// Tokens already verified, by SHA-256, with their claims. A tablet sends the
    /// same token with every request, and checking its Ed25519 signature costs more
    /// than the rest of a scan's own work. Expiry is still checked at every use.
    verified: Mutex<HashMap<[u8; 32], Claims>>,
}

/// Verified tokens kept at most (then the memory starts over).
const VERIFIED_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing keys in {0}: run `towncard keys generate`")]
    NoKeys(String),
    #[error("cannot read key {0}: {1}")]
    Unreadable(String, String),
    #[error("active_kid {0:?} is not among the keys in {1}")]
    UnknownActive(String, String),
}

/// A key id from the public key: stable, and says nothing about the secret.
fn kid_for(key: &SigningKey) -> String {
    format!(
        "ed-{}",
        hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8])
    )
}

/// Writes a new Ed25519 key as `<dir>/<kid>.pem` (PKCS#8) and returns its kid.
pub fn generate_key_file(dir: &Path) -> Result<String, KeyError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let kid = kid_for(&key);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Unreadable(kid.clone(), e.to_string()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| KeyError::Unreadable(dir.display().to_string(), e.to_string()))?;
    let path = dir.join(format!("{kid}.pem"));
    std::fs::write(&path, pem.as_bytes())
        .map_err(|e| KeyError::Unreadable(path.display().to_string(), e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(kid)
}

impl JwtKeys {
    /// Loads every `*.pem` in `keys_dir`; the active kid (or the newest file) signs.
    pub fn load(s: &AuthSettings) -> Result<JwtKeys, KeyError> {
        let dir = s.keys_dir.display().to_string();
        let mut keys = Vec::new();
        let entries = std::fs::read_dir(&s.keys_dir).map_err(|_| KeyError::NoKeys(dir.clone()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pem") {
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| KeyError::Unreadable(path.display().to_string(), e.to_string()))?;
                let key = SigningKey::from_pkcs8_pem(&pem)
                    .map_err(|e| KeyError::Unreadable(path.display().to_string(), e.to_string()))?;
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                keys.push((modified, key));
            }
        }
        keys.sort_by_key(|(m, _)| *m);
        let active = if s.active_kid.is_empty() {
            keys.last()
                .map(|(_, k)| k.clone())
                .ok_or(KeyError::NoKeys(dir.clone()))?
        } else {
            keys.iter()
                .find(|(_, k)| kid_for(k) == s.active_kid)
                .map(|(_, k)| k.clone())
                .ok_or_else(|| KeyError::UnknownActive(s.active_kid.clone(), dir.clone()))?
        };
        Ok(Self::from_keys(s, &active, keys.iter().map(|(_, k)| k)))
    }

    /// An in-memory key, for tests and one-off tools.
    pub fn ephemeral(s: &AuthSettings) -> JwtKeys {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Self::from_keys(s, &key, std::iter::once(&key))
    }

    fn from_keys<'a>(
        s: &AuthSettings,
        active: &SigningKey,
        all: impl Iterator<Item = &'a SigningKey>,
    ) -> JwtKeys {
        let decoding = all
            .map(|k| {
                let x = URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes());
                (kid_for(k), DecodingKey::from_ed_components(&x))
            })
            .filter_map(|(kid, key)| key.ok().map(|k| (kid, k)))
            .collect();
        let der = active
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&s.issuer]);
        validation.set_audience(&[&s.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        JwtKeys {
            active_kid: kid_for(active),
            encoding: EncodingKey::from_ed_der(&der),
            decoding,
            validation,
            issuer: s.issuer.clone(),
            audience: s.audience.clone(),
            ttl_secs: s.access_token_ttl_secs,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues a token for this subject, role and scope.
    pub fn issue(
        &self,
        sub: String,
        role: Role,
        town: TownId,
        merchant: Option<MerchantId>,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            iat: now,
            exp: now + self.ttl_secs,
            role,
            town,
            merchant,
        };
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm, kid, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        let leeway = self.validation.leeway as i64;
        let known = self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).cloned());
        if let Some(c) = known
            && c.exp + leeway > now
        {
            return Ok(c);
        }
        let claims = self.verify_signed(token)?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_MAX {
                m.clear();
            }
            m.insert(digest, claims.clone());
        }
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = |m: &str| ApiError::unauthorized("invalid_token", m.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid("token algorithm not allowed"));
        }
        let kid = header.kid.ok_or_else(|| invalid("token has no key id"))?;
        let key = self
            .decoding
            .get(&kid)
            .ok_or_else(|| invalid("token signed by an unknown key"))?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthorized(
                        "token_expired",
                        "the access token has expired; log in again",
                    ),
                    _ => invalid("token rejected"),
                }
            })?;
        let c = data.claims;
        if c.role.is_merchant_role() != c.merchant.is_some() {
            return Err(invalid("token scope does not fit its role"));
        }
        Ok(c)
    }
}

/// The authenticated caller. Handlers check the role with [`AuthUser::require`];
/// the town always comes from the token, never from the request.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    pub fn town(&self) -> TownId {
        self.0.town
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn merchant(&self) -> Option<MerchantId> {
        self.0.merchant
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.0.sub.parse().ok()
    }

    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Self, ApiError> {
        if roles.contains(&self.0.role) {
            Ok(self)
        } else {
            Err(ApiError::forbidden(
                "forbidden_role",
                format!("this action is not allowed for role {}", self.0.role),
            ))
        }
    }

    /// Refuses a merchant-scoped caller acting for another merchant.
    pub fn require_merchant(&self, merchant: MerchantId) -> Result<&Self, ApiError> {
        match self.0.merchant {
            Some(m) if m == merchant => Ok(self),
            None if !self.0.role.is_merchant_role() => Ok(self),
            _ => Err(ApiError::forbidden(
                "forbidden_merchant",
                "this belongs to another merchant",
            )),
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<JwtKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = Arc::<JwtKeys>::from_ref(state);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
            })?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
        })?;
        let claims = keys.verify(token.trim())?;
        tracing::Span::current().record("user.role", claims.role.as_str());
        Ok(AuthUser(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn keys() -> JwtKeys {
        JwtKeys::ephemeral(&Settings::default().auth)
    }

    #[test]
    fn issues_and_verifies_a_scoped_token() {
        let k = keys();
        let town = TownId::new();
        let t = k
            .issue("u1".into(), Role::TownAdmin, town, None)
            .unwrap_or_default();
        let c = k.verify(&t).map_err(|e| e.code);
        assert_eq!(c.as_ref().map(|c| c.town), Ok(town));
        assert_eq!(c.map(|c| c.role), Ok(Role::TownAdmin));
    }

    #[test]
    fn refuses_foreign_expired_and_alg_none_tokens() {
        let (a, b) = (keys(), keys());
        let town = TownId::new();
        let t = a
            .issue("u1".into(), Role::Auditor, town, None)
            .unwrap_or_default();
        assert_eq!(
            b.verify(&t).map_err(|e| e.code).err(),
            Some("invalid_token")
        );

        let mut claims = a
            .verify(&t)
            .map_err(|e| e.code)
            .unwrap_or_else(|c| panic!("{c}"));
        claims.exp = chrono::Utc::now().timestamp() - 3600;
        let old = a.sign(&claims).unwrap_or_default();
        assert_eq!(
            a.verify(&old).map_err(|e| e.code).err(),
            Some("token_expired")
        );

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default())
        );
        assert_eq!(
            a.verify(&none).map_err(|e| e.code).err(),
            Some("invalid_token")
        );
        assert_eq!(
            a.verify("garbage").map_err(|e| e.code).err(),
            Some("invalid_token")
        );
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_one_is_checked_again() {
        let k = keys();
        let mut claims = Claims {
            iss: k.issuer.clone(),
            aud: k.audience.clone(),
            sub: "u1".into(),
            iat: chrono::Utc::now().timestamp(),
            exp: chrono::Utc::now().timestamp() + 3600,
            role: Role::Auditor,
            town: TownId::new(),
            merchant: None,
        };
        let t = k.sign(&claims).unwrap_or_default();
        assert!(k.verify(&t).is_ok());
        assert!(k.verify(&t).is_ok(), "the remembered token");
        // One character of the signature changed: not the remembered token.
        let mut forged = t.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap_or_default();
        assert_eq!(
            k.verify(&forged).map_err(|e| e.code).err(),
            Some("invalid_token")
        );
        // A remembered token whose time is up is refused like any other.
        claims.exp = chrono::Utc::now().timestamp() - 31;
        let short = k.sign(&claims).unwrap_or_default();
        if let Ok(mut m) = k.verified.lock() {
            let digest: [u8; 32] = Sha256::digest(short.as_bytes()).into();
            m.insert(digest, claims.clone());
        }
        assert_eq!(
            k.verify(&short).map_err(|e| e.code).err(),
            Some("token_expired")
        );
    }

    #[test]
    fn a_merchant_role_needs_a_merchant() {
        let k = keys();
        let t = k
            .issue("u".into(), Role::MerchantStaff, TownId::new(), None)
            .unwrap_or_default();
        assert!(k.verify(&t).is_err());
    }

    #[test]
    fn rotated_keys_still_verify() {
        let dir = std::env::temp_dir().join(format!("towncard-keys-{}", uuid::Uuid::new_v4()));
        let mut s = Settings::default().auth;
        s.keys_dir = dir.clone();
        let old = generate_key_file(&dir).unwrap_or_default();
        s.active_kid = old.clone();
        let before = JwtKeys::load(&s).unwrap_or_else(|e| panic!("{e}"));
        let token = before
            .issue("u".into(), Role::Auditor, TownId::new(), None)
            .unwrap_or_default();
        let new = generate_key_file(&dir).unwrap_or_default();
        s.active_kid = new.clone();
        let after = JwtKeys::load(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.active_kid(), new);
        assert!(after.verify(&token).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
