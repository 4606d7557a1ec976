//! The platform through the real all-in-one router on a real port: login, tokens,
//! roles, town isolation, the error envelope, limits, health and metrics.

use kernel::{CardNumber, Role};
use platform::testing::{context, make_merchant, make_staff, make_town, spawn, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

mod common;
use common::documents;

async fn app(admin: &PgPool) -> (String, platform::Context) {
    let ctx = context(admin).await;
    let base = spawn(towncard::all_in_one::router(ctx.clone())).await;
    (base, ctx)
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[sqlx::test(migrations = "../../migrations")]
async fn staff_log_in_with_their_password_only(admin: PgPool) {
    let (base, _ctx) = app(&admin).await;
    let town = make_town(&admin, "koper", 101).await;
    make_staff(
        &admin,
        town,
        Role::TownAdmin,
        None,
        "Admin@Koper.test",
        "s3cret-pass",
    )
    .await;
    let http = reqwest::Client::new();
    let login = |email: &str, pw: &str, town: &str| {
        http.post(format!("{base}/auth/login"))
            .json(&json!({ "town": town, "email": email, "password": pw }))
            .send()
    };

    let (status, body) = json_of(
        login("admin@koper.test", "s3cret-pass", "koper")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "town_admin");
    assert_eq!(body["town_id"], town.to_string());
    let access = body["access_token"].as_str().unwrap_or_default().to_owned();

    for (email, pw, town) in [
        ("admin@koper.test", "wrong", "koper"),
        ("nobody@koper.test", "s3cret-pass", "koper"),
        ("admin@koper.test", "s3cret-pass", "piran"),
    ] {
        let (status, body) = json_of(
            login(email, pw, town)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "invalid_credentials");
    }

    let me = http
        .get(format!("{base}/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = json_of(me).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "town_admin");

    let none = http
        .get(format!("{base}/auth/me"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json_of(none).await.1["code"], "missing_token");
    let tampered = format!("{}x", &access[..access.len() - 1]);
    let bad = http
        .get(format!("{base}/auth/me"))
        .bearer_auth(tampered)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = json_of(bad).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_token");
}

#[sqlx::test(migrations = "../../migrations")]
async fn roles_and_towns_are_enforced(admin: PgPool) {
    let (base, ctx) = app(&admin).await;
    let a = make_town(&admin, "town-a", 101).await;
    let b = make_town(&admin, "town-b", 102).await;
    let shop = make_merchant(&admin, a, "Shop A1").await;
    make_merchant(&admin, a, "Shop A2").await;
    make_merchant(&admin, b, "Shop B1").await;
    let product = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO card_products (id, town_id, code, names, kind) VALUES ($1, $2, 'RES', '{}', 'annual')")
        .bind(product)
        .bind(b.as_uuid())
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let number = CardNumber::new(102, 7).unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("INSERT INTO cards (id, town_id, product_id, serial, number, page_code) VALUES ($1, $2, $3, 7, $4, 'p7')")
        .bind(uuid::Uuid::new_v4())
        .bind(b.as_uuid())
        .bind(product)
        .bind(number.digits())
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let http = reqwest::Client::new();
    let get = |path: &str, tok: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth(tok.to_owned())
            .send()
    };
    let card_path = format!("/issuing/v1/cards/{}", number.digits());

    // Town B's operator finds the card; town A's does not even learn it exists.
    let tic_b = token(&ctx, Role::TicOperator, b, None);
    let tic_a = token(&ctx, Role::TicOperator, a, None);
    assert_eq!(
        get(&card_path, &tic_b).await.map(|r| r.status()).ok(),
        Some(StatusCode::OK)
    );
    let (status, body) = json_of(
        get(&card_path, &tic_a)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("card_not_found"))
    );

    // A typo in the number fails the check digit before any lookup.
    let typo = format!(
        "/issuing/v1/cards/{}",
        &number.digits().replacen('7', "1", 1)
    );
    let (status, body) = json_of(get(&typo, &tic_b).await.unwrap_or_else(|e| panic!("{e}"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("card_number_invalid"))
    );

    // A merchant owner sees only its own merchant, and may not read the ledger.
    let owner = token(&ctx, Role::MerchantOwner, a, Some(shop));
    let (status, body) = json_of(
        get("/redemption/v1/merchants", &owner)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["name"], "Shop A1");
    let admin_a = token(&ctx, Role::TownAdmin, a, None);
    let (_, body) = json_of(
        get("/redemption/v1/merchants", &admin_a)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(2),
        "town A's admin sees A's two merchants only"
    );
    let (status, body) = json_of(
        get("/settlement/v1/accounts", &owner)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_error_has_the_envelope_and_a_request_id(admin: PgPool) {
    let (base, ctx) = app(&admin).await;
    let town = make_town(&admin, "env", 103).await;
    let http = reqwest::Client::new();

    let r = http
        .get(format!("{base}/no/such/route"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "code": "not_found", "message": "no such route", "request_id": "abc-123" })
    );

    let r = http
        .post(format!("{base}/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let generated = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    assert_eq!(body["request_id"].as_str().map(str::to_owned), generated);

    let r = http
        .post(format!("{base}/auth/login"))
        .json(&json!({ "town": "env", "email": "x@y" }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );

    let huge = json!({ "town": "env", "email": "x@y", "password": "p".repeat(400 * 1024) });
    let r = http
        .post(format!("{base}/auth/login"))
        .json(&huge)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");

    // Bodies that are not JSON (a claim's CSV, a card action's optional reason) too.
    let merchant = make_merchant(&admin, town, "Loggia").await;
    let owner = token(&ctx, Role::MerchantOwner, town, Some(merchant));
    let desk = token(&ctx, Role::TicOperator, town, None);
    for (path, bearer, kind) in [
        (
            format!("/settlement/v1/periods/2026-11/merchants/{merchant}/claim"),
            &owner,
            "text/csv",
        ),
        (
            "/issuing/v1/cards/101000000013/actions/suspend".to_owned(),
            &desk,
            "application/json",
        ),
    ] {
        let r = http
            .post(format!("{base}{path}"))
            .bearer_auth(bearer)
            .header("content-type", kind)
            .body("a".repeat(400 * 1024))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, body) = json_of(r).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
            "{path}: {body}"
        );
    }

    let tok = token(&ctx, Role::Auditor, town, None);
    let r = http
        .get(format!("{base}/issuing/v1/cards/%FF%FE"))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.status().is_client_error(),
        "bad path bytes are a client error, got {}",
        r.status()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_nul_character_in_text_is_a_400_and_writes_nothing(admin: PgPool) {
    let (base, ctx) = app(&admin).await;
    let town = make_town(&admin, "koper", 101).await;
    let merchant = make_merchant(&admin, town, "Loggia").await;
    sqlx::query(
        "INSERT INTO card_products (id, town_id, code, names, kind, validity_hours)
         VALUES ($1, $2, 'KC48', '{}', 'tourist_hours', 48)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(town.as_uuid())
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::new();
    let town_admin = token(&ctx, Role::TownAdmin, town, None);
    let desk = token(&ctx, Role::TicOperator, town, None);
    let count = |table: &'static str| {
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table}"
            )))
            .fetch_one(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let before = (
        count("merchants").await,
        count("device_enrolments").await,
        count("cards").await,
    );
    // A town, a merchant, a tablet's name and a card holder, one each service.
    for (path, bearer, body) in [
        (
            "/auth/login",
            "",
            json!({"town": "kop\u{0}er", "email": "a@b", "password": "x"}),
        ),
        (
            "/redemption/v1/merchants",
            town_admin.as_str(),
            json!({"name": "Kavarna\u{0}", "category": "cafe"}),
        ),
        (
            &*format!("/redemption/v1/merchants/{merchant}/enrolment-codes"),
            town_admin.as_str(),
            json!({"device_name": "Blagajna\u{0}1"}),
        ),
        (
            "/issuing/v1/cards",
            desk.as_str(),
            json!({"product_code": "KC48", "holder_name": "Ana\u{0}"}),
        ),
    ] {
        let r = http
            .post(format!("{base}{path}"))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, body) = json_of(r).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_text")),
            "{path}: {body}"
        );
    }
    let after = (
        count("merchants").await,
        count("device_enrolments").await,
        count("cards").await,
    );
    assert_eq!(before, after, "nothing was written");
}

#[sqlx::test(migrations = "../../migrations")]
async fn each_document_puts_parameters_where_the_routes_take_them(admin: PgPool) {
    let (base, _) = app(&admin).await;
    let http = reqwest::Client::new();
    let mut checked = 0;
    for (_, doc) in documents(&http, &base).await {
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap_or_default();
                    if p["in"] == "path" {
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: `{name}` is no part of the path (a query parameter?)"
                        );
                    }
                }
                // Every operation documents the answers any request may get.
                for status in ["400", "500", "503"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path}: no {status}"
                    );
                }
                if op["requestBody"].is_object() {
                    assert!(
                        op["responses"].get("422").is_some(),
                        "{method} {path}: no 422"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} operations");
}

#[sqlx::test(migrations = "../../migrations")]
async fn health_readiness_metrics_and_docs(admin: PgPool) {
    let (base, ctx) = app(&admin).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .map(|r| r.status())
            .ok(),
        Some(StatusCode::OK)
    );
    let (status, body) = json_of(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "postgres": "ok", "redis": "ok" }));

    for (prefix, doc) in documents(&http, &base).await {
        let paths = doc["paths"]
            .as_object()
            .map(|p| p.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(
            paths.iter().any(|p| p.starts_with(&format!("/{prefix}/"))),
            "{prefix}: {paths:?}"
        );
        assert!(paths.contains(&"/auth/login".to_owned()));
        let page = http
            .get(format!("{base}/{prefix}/docs/"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap_or_default().contains("swagger"));
    }

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/readyz\""));

    // With Postgres gone, readiness says so.
    ctx.db.close().await;
    let (status, body) = json_of(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["postgres"], "unreachable");
}

#[sqlx::test(migrations = "../../migrations")]
async fn readiness_fails_when_redis_goes_away(admin: PgPool) {
    let port = free_port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("redis-server: {e}"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut settings = platform::Settings::default();
    settings.redis.url = platform::Secret::new(format!("redis://127.0.0.1:{port}/0"));
    let ctx = platform::testing::context_with(&admin, settings).await;
    let base = spawn(towncard::all_in_one::router(ctx)).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| r.status())
            .ok(),
        Some(StatusCode::OK)
    );
    let _ = redis.kill();
    let _ = redis.wait();
    let (status, body) = json_of(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["redis"], "unreachable");
    assert_eq!(body["postgres"], "ok");
}

#[sqlx::test(migrations = "../../migrations")]
async fn password_login_is_rate_limited_per_address(admin: PgPool) {
    let mut settings = platform::Settings::default();
    settings.auth.login_per_minute = 2;
    settings.auth.login_burst = 3;
    let ctx = platform::testing::context_with(&admin, settings).await;
    // Only this test uses a tight login limit; start from a clean bucket.
    let mut redis = ctx.redis.clone();
    let _: () = redis::cmd("DEL")
        .arg("rl:pwlogin:127.0.0.1")
        .query_async(&mut redis)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = spawn(towncard::all_in_one::router(ctx)).await;
    let town = make_town(&admin, "koper", 101).await;
    make_staff(
        &admin,
        town,
        Role::TownAdmin,
        None,
        "a@koper.test",
        "right-pass",
    )
    .await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = http
            .post(format!("{base}/auth/login"))
            .json(&json!({ "town": "koper", "email": "a@koper.test", "password": "guess" }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let (_, body) = json_of(r).await;
            assert_eq!(body["code"], "rate_limited");
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "a burst of 3, then refused before the password is even checked"
    );
    // The right password is refused too until the bucket drains: guessing cannot go faster.
    let r = http
        .post(format!("{base}/auth/login"))
        .json(&json!({ "town": "koper", "email": "a@koper.test", "password": "right-pass" }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrations = "../../migrations")]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_limit(admin: PgPool) {
    let mut settings = platform::Settings::default();
    settings.auth.login_per_minute = 2;
    settings.auth.login_burst = 3;
    // The test connects from 127.0.0.1, as a proxy on the same host would.
    settings.server.trusted_proxies = "127.0.0.1".into();
    let ctx = platform::testing::context_with(&admin, settings).await;
    let (a, b) = ("198.51.100.21", "198.51.100.22");
    let mut redis = ctx.redis.clone();
    for ip in [a, b] {
        let _: () = redis::cmd("DEL")
            .arg(format!("rl:pwlogin:{ip}"))
            .query_async(&mut redis)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let base = spawn(towncard::all_in_one::router(ctx)).await;
    make_town(&admin, "koper", 101).await;
    let http = reqwest::Client::new();
    let login = |client: &str| {
        http.post(format!("{base}/auth/login"))
            .header("x-forwarded-for", format!("{client}, 127.0.0.1"))
            .json(&json!({ "town": "koper", "email": "a@koper.test", "password": "guess" }))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(login(a).await.unwrap_or_else(|e| panic!("{e}")).status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "the client behind the proxy has its burst of 3"
    );
    let r = login(b).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not refused for the first one's guesses"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(16379)
}
