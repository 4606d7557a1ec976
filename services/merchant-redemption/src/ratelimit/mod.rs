//! Velocity limits (GCRA in Redis, failing open) live in `platform::ratelimit`,
//! shared with staff login.

pub use platform::ratelimit::*;
