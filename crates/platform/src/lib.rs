//! What every towncard service needs: settings, telemetry, the error envelope,
//! authentication, database and Redis handles, health/metrics routes and `serve()`.

pub mod auth;
pub mod client;
pub mod db;
pub mod docs;
pub mod error;
pub mod health;
pub mod login;
pub mod password;
pub mod ratelimit;
pub mod secret;
pub mod serve;
pub mod settings;
pub mod telemetry;
pub mod testing;

pub use auth::{AuthUser, Claims, JwtKeys};
pub use error::{ApiError, ApiResult};
pub use secret::Secret;
pub use serve::{Application, Context};
pub use settings::Settings;
