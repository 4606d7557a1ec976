//! The generic cell rate algorithm as one atomic Redis script: the key holds the
//! theoretical arrival time (TAT) in milliseconds.

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

const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - now - tolerance
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return 0
";

/// Returns 0 when allowed, else the milliseconds to wait.
pub async fn step(
    conn: &mut ConnectionManager,
    key: &str,
    rate: Rate,
    now_ms: i64,
) -> redis::RedisResult<u64> {
    let wait: i64 = redis::Script::new(SCRIPT)
        .key(key)
        .arg(now_ms)
        .arg(rate.interval_ms())
        .arg(rate.tolerance_ms())
        .invoke_async(conn)
        .await?;
    Ok(wait.max(0) as u64)
}
