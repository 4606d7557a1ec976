//! Typed settings, layered: defaults → optional TOML file → `TOWNCARD__...` environment.
//! `TOWNCARD__DATABASE__URL=...` sets `database.url`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    /// Card issuing: how town QR signing keys are sealed at rest.
    #[serde(default)]
    pub issuing: IssuingSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuingSettings {
    /// Key-encryption key (64 hex digits = 32 bytes) that seals the towns' QR signing
    /// keys in `town_keys.sealed_private_key` (ChaCha20-Poly1305, see docs/qr-token.md).
    /// The default is a public development key: set `TOWNCARD__ISSUING__KEY_ENCRYPTION_KEY`
    /// in production, and keep it out of the database's backups.
    pub key_encryption_key: Secret<String>,
}

/// The development key-encryption key; never use it in production.
pub const DEV_KEY_ENCRYPTION_KEY: &str =
    "746f776e636172642d6465762d6b65792d656e6372797074696f6e2d6b657921";

impl Default for IssuingSettings {
    fn default() -> Self {
        IssuingSettings {
            key_encryption_key: Secret::new(DEV_KEY_ENCRYPTION_KEY.into()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// The URL people open, printed at start and used in links (e.g. card pages).
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// The reverse proxies in front (addresses or CIDR blocks, comma-separated):
    /// from these, per-address limits take the client from `X-Forwarded-For`.
    pub trusted_proxies: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// The services' connection: role `towncard_app`, subject to row-level security.
    pub url: Secret<String>,
    /// The owner's connection, for `migrate`, `seed-demo` and `audit` only.
    pub admin_url: Secret<String>,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RedisSettings {
    pub url: Secret<String>,
    pub response_timeout_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: i64,
    /// Folder of Ed25519 PKCS#8 PEM keys named `<kid>.pem`; all verify, `active_kid` signs.
    pub keys_dir: PathBuf,
    /// Empty: the newest key in `keys_dir` signs.
    pub active_kid: String,
    /// Password logins per client IP per minute (GCRA; bursts of `login_burst`); 0 = no limit.
    pub login_per_minute: u32,
    pub login_burst: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogSettings {
    /// `json` (production) or `pretty` (a terminal).
    pub format: String,
    /// An env-filter directive, e.g. `info,sqlx=warn`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: 8080,
                public_url: "http://127.0.0.1:8080".into(),
                body_limit_bytes: 256 * 1024,
                request_timeout_secs: 30,
                trusted_proxies: String::new(),
            },
            database: DatabaseSettings {
                url: Secret::new("postgres://towncard_app@127.0.0.1:5432/towncard".into()),
                admin_url: Secret::new("postgres://postgres@127.0.0.1:5432/towncard".into()),
                max_connections: 20,
                acquire_timeout_secs: 5,
            },
            redis: RedisSettings {
                url: Secret::new("redis://127.0.0.1:6379/0".into()),
                response_timeout_ms: 250,
            },
            auth: AuthSettings {
                issuer: "towncard".into(),
                audience: "towncard".into(),
                access_token_ttl_secs: 8 * 3600,
                keys_dir: PathBuf::from(".towncard/keys"),
                active_kid: String::new(),
                login_per_minute: 10,
                login_burst: 5,
            },
            log: LogSettings {
                format: "json".into(),
                filter: "info,sqlx=warn".into(),
            },
            issuing: IssuingSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment; validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(SettingsError::Invalid(format!(
                    "settings file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        let s: Settings = fig
            .merge(Env::prefixed("TOWNCARD__").split("__"))
            .extract()
            .map_err(Box::new)?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        for (name, url) in [
            ("database.url", self.database.url.expose()),
            ("database.admin_url", self.database.admin_url.expose()),
        ] {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                return bad(format!("{name} must be a postgres:// URL"));
            }
        }
        if !self.redis.url.expose().starts_with("redis://") {
            return bad("redis.url must be a redis:// URL".into());
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections must be at least 1".into());
        }
        if self.server.body_limit_bytes < 1024 {
            return bad("server.body_limit_bytes must be at least 1024".into());
        }
        if !(60..=86_400).contains(&self.auth.access_token_ttl_secs) {
            return bad("auth.access_token_ttl_secs must be between 60 and 86400".into());
        }
        let kek = self.issuing.key_encryption_key.expose();
        if kek.len() != 64 || !kek.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad("issuing.key_encryption_key must be 64 hex digits".into());
        }
        if let Err(e) = crate::client::parse_trusted(&self.server.trusted_proxies) {
            return bad(format!("server.trusted_proxies: {e}"));
        }
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return bad("log.format must be json or pretty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(Settings::default().validate().is_ok());
        let mut s = Settings::default();
        s.log.format = "xml".into();
        let err = s.validate().map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("settings: log.format must be json or pretty".into())
        );
        assert!(Settings::load(Some(Path::new("/nonexistent.toml"))).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let printed = format!("{:?}", Settings::default());
        assert!(!printed.contains("postgres://"), "{printed}");
    }
}
