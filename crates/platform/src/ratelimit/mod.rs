//! Velocity limits in Redis with GCRA (per IP on login and PIN unlock, per card,
//! per device). Redis is a throttle, not the truth: when it is unreachable the check
//! fails open, counted in `ratelimit_fail_open_total` and logged once per outage.

mod gcra;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use redis::aio::ConnectionManager;

pub use gcra::Rate;

use crate::error::{ApiError, ApiResult};
use crate::serve::Context;

/// How long a check may take before Redis counts as down.
const DEADLINE: Duration = Duration::from_millis(100);
/// After a failure, Redis is not asked again for this long (a circuit breaker).
const BACKOFF_MS: i64 = 1_000;

#[derive(Default)]
pub struct Limiter {
    down: AtomicBool,
    skip_until_ms: AtomicI64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; retry after this many milliseconds.
    Limited(u64),
    /// Redis could not answer: allowed.
    FailedOpen,
}

impl Limiter {
    /// One GCRA step for `key` at `rate`.
    pub async fn check(&self, redis: &ConnectionManager, key: &str, rate: Rate) -> Verdict {
        self.check_many(redis, &[(key, rate)]).await[0]
    }

    /// One GCRA step per (key, rate), in order, in one round trip.
    pub async fn check_many(
        &self,
        redis: &ConnectionManager,
        checks: &[(&str, Rate)],
    ) -> Vec<Verdict> {
        if checks.is_empty() {
            return Vec::new();
        }
        let now = chrono::Utc::now().timestamp_millis();
        if now < self.skip_until_ms.load(Ordering::Relaxed) {
            return checks.iter().map(|_| self.fail_open(None)).collect();
        }
        let mut conn = redis.clone();
        let cause = match tokio::time::timeout(DEADLINE, gcra::step(&mut conn, checks, now)).await {
            Ok(Ok(waits)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limiter: Redis is back");
                }
                return waits
                    .into_iter()
                    .map(|wait| match wait {
                        0 => Verdict::Allowed,
                        w => Verdict::Limited(w),
                    })
                    .collect();
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        self.skip_until_ms
            .store(now + BACKOFF_MS, Ordering::Relaxed);
        checks
            .iter()
            .map(|_| self.fail_open(Some(&cause)))
            .collect()
    }

    fn fail_open(&self, cause: Option<&str>) -> Verdict {
        metrics::counter!("ratelimit_fail_open_total").increment(1);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = cause.unwrap_or("unavailable"),
                "rate limiter: Redis unreachable, limits fail open until it is back"
            );
        }
        Verdict::FailedOpen
    }
}

/// Applies a velocity limit with the process's limiter: over it is 429
/// `rate_limited`; Redis being down lets the request through.
pub async fn throttle(ctx: &Context, key: &str, rate: Rate) -> ApiResult<()> {
    verdict(ctx.limiter.check(&ctx.redis, key, rate).await)
}

/// `throttle` for several keys in one round trip; one result per key.
pub async fn throttle_many(ctx: &Context, checks: &[(&str, Rate)]) -> Vec<ApiResult<()>> {
    ctx.limiter
        .check_many(&ctx.redis, checks)
        .await
        .into_iter()
        .map(verdict)
        .collect()
}

fn verdict(v: Verdict) -> ApiResult<()> {
    match v {
        Verdict::Limited(wait_ms) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; retry in {} s", wait_ms.div_ceil(1000)),
        )),
        Verdict::Allowed | Verdict::FailedOpen => Ok(()),
    }
}
