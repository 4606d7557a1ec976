//! Velocity limits (GCRA in Redis, failing open) live in `platform::ratelimit`,
//! shared with staff login.

pub use platform::ratelimit::*;

use platform::{ApiResult, Context};
use uuid::Uuid;

/// A tablet's own velocity key.
pub fn device_key(device: Uuid) -> String {
    format!("rl:device:{device}")
}

/// A tablet's own velocity limit; a laptop (no device) passes.
pub async fn throttle_device(ctx: &Context, device: Option<Uuid>, rate: Rate) -> ApiResult<()> {
    match device {
        Some(d) => throttle(ctx, &device_key(d), rate).await,
        None => Ok(()),
    }
}
