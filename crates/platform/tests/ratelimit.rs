//! GCRA against the real Redis: several keys stepped in one call, in order.

use platform::ratelimit::{Limiter, Rate, Verdict};
use redis::aio::ConnectionManager;

async fn redis() -> ConnectionManager {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("{e}"));
    ConnectionManager::new(client)
        .await
        .unwrap_or_else(|e| panic!("Redis must run on 127.0.0.1:6379: {e}"))
}

#[tokio::test]
async fn one_call_steps_each_key_in_order_and_a_repeated_key_twice() {
    let conn = redis().await;
    let limiter = Limiter::default();
    let run = uuid::Uuid::now_v7();
    let (a, b) = (format!("test:rl:{run}:a"), format!("test:rl:{run}:b"));
    // Two at once, then one a minute.
    let rate = Rate {
        per_minute: 1,
        burst: 2,
    };
    let first = limiter
        .check_many(&conn, &[(&a, rate), (&b, rate), (&a, rate)])
        .await;
    assert_eq!(first, [Verdict::Allowed; 3]);
    // `a` has used its burst (twice in the call above); `b` once.
    let second = limiter
        .check_many(&conn, &[(&a, rate), (&b, rate), (&b, rate)])
        .await;
    assert!(matches!(second[0], Verdict::Limited(ms) if ms > 0 && ms <= 60_000));
    assert_eq!(second[1], Verdict::Allowed);
    assert!(matches!(second[2], Verdict::Limited(_)));
    assert_eq!(limiter.check_many(&conn, &[]).await, []);
    // The single check is the same step.
    assert!(matches!(
        limiter.check(&conn, &b, rate).await,
        Verdict::Limited(_)
    ));
}
