//! The shipped reverse proxy (deploy/nginx/towncard.conf) in front of the services:
//! one origin for the desk, the counter, the visitor and the municipality, and the
//! per-address limits counting each client, not the proxy.

use serde_json::json;
use sqlx::PgPool;
use towncard_system_tests::{Proxy, System, Town, text, today};

/// A wrong password for the town's admin, from `client` behind the proxy.
async fn login(sys: &System, base: &str, client: &str) -> u16 {
    let body = json!({"town": "koper", "email": "uprava@koper.si", "password": "narobe"});
    sys.through(base, client)
        .post(base, "/auth/login", "", body)
        .await
        .0
}

#[sqlx::test(migrations = "../migrations")]
async fn one_origin_serves_every_service_and_limits_count_each_client(admin_db: PgPool) {
    // Staff logins limited as in production's default, 10 a minute in bursts of 5.
    let sys = System::start_with(
        &admin_db,
        &[
            ("TOWNCARD__AUTH__LOGIN_PER_MINUTE", "10"),
            ("TOWNCARD__AUTH__LOGIN_BURST", "5"),
        ],
    )
    .await;
    let proxy = Proxy::start(&sys).await;
    // Clients at documentation addresses, their buckets emptied first (Redis is shared
    // with other tests and earlier runs).
    let (desk, guesser, neighbour) = ("198.51.100.41", "198.51.100.42", "198.51.100.43");
    let redis = redis::Client::open(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = redis
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for ip in [desk, guesser, neighbour] {
        let _: () = redis::cmd("DEL")
            .arg(format!("rl:pwlogin:{ip}"))
            .arg(format!("rl:login:{ip}"))
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // The whole set-up and a card's way, through the proxy alone.
    let via = sys.through(&proxy.base, desk);
    let town = Town::set_up(&via, &admin_db, "koper", 101).await;
    let (number, token) = town.sell_card(&via).await;
    let (s, scan) = town.scan(&via, &proxy.base, &token, "30.00").await;
    assert_eq!(
        (s, text(&scan["offers"][0]["discount"])),
        (200, "3.00".into()),
        "{scan}"
    );
    let (s, receipt) = via
        .call(
            reqwest::Method::POST,
            format!("{}/redemption/v1/redemptions", proxy.base),
            &town.tablet,
            Some("prx-1"),
            Some(json!({"token": token, "promotion_id": town.promotion, "basket": "30.00"})),
        )
        .await;
    assert_eq!(s, 201, "{receipt}");
    let month = today().format("%Y-%m").to_string();
    let (s, summary) = via
        .get(
            &proxy.base,
            &format!("/settlement/v1/periods/{month}/summary"),
            &town.admin,
        )
        .await;
    assert_eq!(
        (s, text(&summary["totals"]["municipality"])),
        (200, "1.50".into()),
        "{summary}"
    );

    // Pages and documents of every service at their paths.
    let (_, card) = via
        .get(
            &proxy.base,
            &format!("/issuing/v1/cards/{number}"),
            &town.desk,
        )
        .await;
    let page = text(&card["page_url"]);
    let path = &page[page.find("/c/").unwrap_or_else(|| panic!("{page}"))..];
    for (path, kind) in [
        (path, "text/html"),
        ("/tablet/", "text/html"),
        ("/settlement/console", "text/html"),
        ("/issuing/openapi.json", "application/json"),
        ("/redemption/openapi.json", "application/json"),
        ("/settlement/openapi.json", "application/json"),
    ] {
        let r = sys
            .http
            .get(format!("{}{path}", proxy.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(r.status(), 200, "{path}");
        assert!(ct.starts_with(kind), "{path}: {ct}");
    }
    let r = sys
        .http
        .get(format!("{}/metrics", proxy.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status(),
        404,
        "metrics are not published through the proxy"
    );

    // One client guessing passwords is refused after its burst; another client
    // behind the same proxy is not.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login(&sys, &proxy.base, guesser).await);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(login(&sys, &proxy.base, neighbour).await, 401);
}
