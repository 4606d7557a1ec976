//! Redis stopped mid-test: a private redis-server this test starts and kills, so
//! other tests keep theirs. Velocity limits work while it runs; afterwards
//! redemptions still succeed, Postgres limits still hold, and the fail-open
//! metric counts every unchecked request.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use kernel::Role;
use merchant_redemption::Config;
use merchant_redemption::ratelimit::Rate;
use platform::Settings;
use serde_json::json;
use sqlx::PgPool;

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn start_redis(port: u16) -> Redis {
    let guard = Redis(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server must be installed: {e}")),
    );
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return guard;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not start on port {port}");
}

fn fail_open_count(ctx: &platform::Context) -> u64 {
    metric(ctx, "ratelimit_fail_open_total")
}

#[sqlx::test(migrations = "../../migrations")]
async fn redis_gone_mid_test_fails_open_and_limits_still_hold(admin: PgPool) {
    let port = free_port();
    let mut redis = Some(start_redis(port).await);
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.redis.url = platform::Secret::new(format!("redis://127.0.0.1:{port}/0"));
    let ctx = platform::testing::context_with(&admin, settings).await;
    let config = Config {
        card_rate: Rate {
            per_minute: 2,
            burst: 2,
        },
        ..Config::default()
    };
    let api = serve(&ctx, config).await;

    let t = town(&admin, "koper", 101).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let free = promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "stamps", "value": 1}}),
        "0",
        "0",
        &[m],
    )
    .await;
    let once = promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 1}),
        "50",
        "100.00",
        &[m],
    )
    .await;
    let cs = cards(&admin, &t, 1, 2).await;

    // Redis up: the third redemption of one card within a minute is throttled.
    for key in ["a1", "a2"] {
        let (s, body) = json_of(api.redeem(&bearer, key, &cs[0], free, "5.00").await).await;
        assert_eq!(s, 201, "{body}");
    }
    let (s, body) = json_of(api.redeem(&bearer, "a3", &cs[0], free, "5.00").await).await;
    assert_eq!((s, body["code"].as_str()), (429, Some("rate_limited")));

    // Redis gone: requests fail open (counted), money limits still hold.
    let before = fail_open_count(&ctx);
    drop(redis.take());
    tokio::time::sleep(Duration::from_millis(200)).await;
    for key in ["b1", "b2", "b3"] {
        let (s, body) = json_of(api.redeem(&bearer, key, &cs[0], free, "5.00").await).await;
        assert_eq!(s, 201, "{body}");
    }
    let (s, body) = json_of(api.redeem(&bearer, "c1", &cs[1], once, "10.00").await).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = json_of(api.redeem(&bearer, "c2", &cs[1], once, "10.00").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("card_daily_limit_reached"))
    );
    let (s, body) = json_of(
        api.post(
            "/redemption/v1/scan",
            &bearer,
            None,
            json!({"token": cs[1].token, "basket": "10.00"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["offers"].as_array().map(Vec::len), Some(2));
    let after = fail_open_count(&ctx);
    assert!(after >= before + 5, "fail-open counted {before} -> {after}");
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::PromotionBudget,
            Some(once)
        )
        .await,
        rust_decimal_macros::dec!(99.50)
    );
    audit_clean(&admin).await;
}
