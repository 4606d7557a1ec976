//! Town QR signing keys: generation, sealing at rest, loading for signing and verifying.
//!
//! A private key is sealed with ChaCha20-Poly1305 under the deployment's
//! key-encryption key (settings `issuing.key_encryption_key`); the stored value is
//! `nonce (12 bytes) || ciphertext+tag (48 bytes)` and the kid is the associated
//! data, so a sealed key moved to another row does not open.

use std::collections::HashMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use kernel::TownId;
use platform::ApiError;
use rand_core::{OsRng, RngCore};
use sqlx::PgConnection;

use crate::db;

/// The key-encryption key, parsed from settings.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl Kek {
    pub fn from_hex(hex_text: &str) -> Result<Kek, ApiError> {
        let bytes = hex::decode(hex_text.trim()).map_err(|_| bad_kek())?;
        Ok(Kek(bytes.try_into().map_err(|_| bad_kek())?))
    }

    pub fn from_settings(s: &platform::Settings) -> Result<Kek, ApiError> {
        Kek::from_hex(s.issuing.key_encryption_key.expose())
    }

    pub fn seal(&self, kid: &str, key: &SigningKey) -> Result<Vec<u8>, ApiError> {
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: key.as_bytes(),
            aad: kid.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| ApiError::internal("sealing a key failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<SigningKey, ApiError> {
        if sealed.len() != 12 + 32 + 16 {
            return Err(ApiError::internal(format!(
                "sealed key {kid} has a bad length"
            )));
        }
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&sealed[..12]);
        let payload = Payload {
            msg: &sealed[12..],
            aad: kid.as_bytes(),
        };
        let secret = cipher.decrypt(&Nonce::from(nonce), payload).map_err(|_| {
            ApiError::internal(format!(
                "key {kid} does not open with this key-encryption key"
            ))
        })?;
        let bytes: [u8; 32] = secret
            .try_into()
            .map_err(|_| ApiError::internal("opened key has a bad length"))?;
        Ok(SigningKey::from_bytes(&bytes))
    }
}

fn bad_kek() -> ApiError {
    ApiError::internal("issuing.key_encryption_key must be 64 hex digits")
}

/// A short kid keeps the QR small: `q` and 6 hex digits.
fn new_kid() -> String {
    let mut b = [0u8; 3];
    OsRng.fill_bytes(&mut b);
    format!("q{}", hex::encode(b))
}

/// Creates a new signing key for the town (it signs from now on); when
/// `retire_others`, older keys stop signing but keep verifying.
pub async fn generate(
    conn: &mut PgConnection,
    town: TownId,
    kek: &Kek,
    retire_others: bool,
) -> Result<String, ApiError> {
    let key = SigningKey::generate(&mut OsRng);
    let kid = new_kid();
    let sealed = kek.seal(&kid, &key)?;
    if retire_others {
        db::keys::retire_all(conn, town).await?;
    }
    db::keys::insert(conn, town, &kid, key.verifying_key().as_bytes(), &sealed).await?;
    Ok(kid)
}

/// The key that signs new tokens. A town without any key gets its first one here.
pub async fn signer(
    conn: &mut PgConnection,
    town: TownId,
    kek: &Kek,
) -> Result<(String, SigningKey), ApiError> {
    if let Some(row) = db::keys::signing(conn, town).await? {
        return Ok((row.kid.clone(), kek.open(&row.kid, &row.sealed)?));
    }
    if db::keys::count(conn, town).await? > 0 {
        return Err(ApiError::conflict(
            "no_signing_key",
            "every key of this town is retired: generate a new one",
        ));
    }
    generate(conn, town, kek, false).await?;
    let row = db::keys::signing(conn, town)
        .await?
        .ok_or_else(|| ApiError::internal("new key not found"))?;
    Ok((row.kid.clone(), kek.open(&row.kid, &row.sealed)?))
}

/// Every key that may verify (not revoked), by kid.
pub async fn verifiers(
    conn: &mut PgConnection,
    town: TownId,
) -> Result<HashMap<String, VerifyingKey>, ApiError> {
    let rows = db::keys::list(conn, town).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.revoked_at.is_none())
        .filter_map(|r| {
            let bytes: [u8; 32] = r.public_key.as_slice().try_into().ok()?;
            Some((r.kid, VerifyingKey::from_bytes(&bytes).ok()?))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_kek_and_kid() {
        let kek = Kek::from_hex(platform::settings::DEV_KEY_ENCRYPTION_KEY)
            .unwrap_or_else(|e| panic!("{}", e.message));
        let key = SigningKey::generate(&mut OsRng);
        let sealed = kek
            .seal("q1", &key)
            .unwrap_or_else(|e| panic!("{}", e.message));
        let opened = kek
            .open("q1", &sealed)
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(opened.as_bytes(), key.as_bytes());
        assert!(kek.open("q2", &sealed).is_err());
        let other = Kek::from_hex(&"11".repeat(32)).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(other.open("q1", &sealed).is_err());
        assert!(Kek::from_hex("abc").is_err());
        assert!(new_kid().len() <= 16);
    }
}
