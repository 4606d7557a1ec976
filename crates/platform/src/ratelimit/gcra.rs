//! The generic cell rate algorithm as one atomic Redis script: each key holds its
//! theoretical arrival time (TAT) in milliseconds. One call steps any number of
//! keys, in order, so that a batch's checks cost one round trip.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;

/// `per_minute` requests on average, bursts of up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    fn interval_ms(self) -> i64 {
        60_000 / i64::from(self.per_minute.max(1))
    }

    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.burst.max(1) - 1)
    }
}

// ARGV: now, then interval and tolerance per key. A key named twice is stepped
// twice, the second time from the first step's TAT.
static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  if tat - now > tolerance then
    out[i] = tat - now - tolerance
  else
    local new_tat = tat + interval
    redis.call('SET', key, new_tat, 'PX', new_tat - now + 1000)
    out[i] = 0
  end
end
return out
",
    )
});

/// Per key, 0 when allowed, else the milliseconds to wait.
pub async fn step(
    conn: &mut ConnectionManager,
    checks: &[(&str, Rate)],
    now_ms: i64,
) -> redis::RedisResult<Vec<u64>> {
    let mut call = SCRIPT.prepare_invoke();
    call.arg(now_ms);
    for (key, rate) in checks {
        call.key(*key)
            .arg(rate.interval_ms())
            .arg(rate.tolerance_ms());
    }
    let waits: Vec<i64> = call.invoke_async(conn).await?;
    if waits.len() != checks.len() {
        return Err(redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "the rate script answered for another number of keys",
        )));
    }
    Ok(waits.into_iter().map(|w| w.max(0) as u64).collect())
}
