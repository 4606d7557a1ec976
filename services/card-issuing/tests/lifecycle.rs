//! The card lifecycle over HTTP against real Postgres and Redis.

mod common;

use common::{app, code, town};
use futures::StreamExt;
use kernel::Role;
use prost::Message;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn act(a: &common::App, auth: &str, number: &str, action: &str) -> (u16, Value) {
    let r = a
        .post(
            auth,
            &format!("/issuing/v1/cards/{number}/actions/{action}"),
            json!({"reason": format!("test {action}")}),
        )
        .await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_card_goes_through_its_whole_lifecycle(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let client = redis::Client::open(redis_url).unwrap_or_else(|e| panic!("{e}"));
    let mut sub = client
        .get_async_pubsub()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sub.subscribe(card_issuing::domain::events::CHANNEL)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().to_owned();
    assert!(number.starts_with("1010 "), "{number}");
    assert_eq!(card["status"], "issued");
    assert!(
        card["expires_at"].is_null(),
        "a tourist card's hours start at first use"
    );
    let auth = a.bearer(Role::TicOperator, t);

    let (s, c) = act(&a, &auth, &number, "activate").await;
    assert_eq!(s, 200);
    assert_eq!(c["status"], "active");
    let activated =
        chrono::DateTime::parse_from_rfc3339(c["activated_at"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(c["expires_at"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expires - activated, chrono::TimeDelta::hours(48));
    assert_eq!(
        code(&act(&a, &auth, &number, "activate").await.1),
        "card_already_active"
    );

    let old_token = a.token_of(t, &number).await;
    assert_eq!(a.verify(t, &old_token).await.0, 200);

    assert_eq!(
        act(&a, &auth, &number, "suspend").await.1["status"],
        "suspended"
    );
    assert_eq!(code(&a.verify(t, &old_token).await.1), "card_suspended");
    assert_eq!(
        act(&a, &auth, &number, "resume").await.1["status"],
        "active"
    );
    assert_eq!(
        code(&act(&a, &auth, &number, "resume").await.1),
        "card_not_suspended"
    );

    let (s, replaced) = act(&a, &auth, &number, "replace").await;
    assert_eq!(s, 200);
    assert_eq!(replaced["token_serial"], 2);
    assert_ne!(
        replaced["page_url"], card["page_url"],
        "a lost card's page link stops working"
    );
    let (s, body) = a.verify(t, &old_token).await;
    assert_eq!((s, code(&body)), (409, "card_replaced"));
    let new_token = a.token_of(t, &number).await;
    assert_ne!(new_token, old_token);
    assert_eq!(a.verify(t, &new_token).await.1["number"], number.as_str());

    let (s, erased) = act(&a, &auth, &number, "erase").await;
    assert_eq!(s, 200);
    assert!(erased["holder_name"].is_null() && erased["holder_email"].is_null());
    assert_eq!(erased["erased"], true);
    let holder: Option<String> =
        sqlx::query_scalar("SELECT holder_email FROM cards WHERE number = $1")
            .bind(number.replace(' ', ""))
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(holder, None);

    assert_eq!(
        act(&a, &auth, &number, "expire").await.1["status"],
        "expired"
    );
    assert_eq!(code(&a.verify(t, &new_token).await.1), "card_expired");
    assert_eq!(
        code(&act(&a, &auth, &number, "activate").await.1),
        "card_expired"
    );

    let r = a
        .get(&auth, &format!("/issuing/v1/cards/{number}/events"))
        .await;
    let events: Vec<Value> = r.json().await.unwrap_or_default();
    let changes: Vec<&str> = events
        .iter()
        .map(|e| e["change"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        changes,
        [
            "issued",
            "activated",
            "suspended",
            "resumed",
            "replaced",
            "erased",
            "expired"
        ]
    );
    assert!(
        events.iter().all(|e| e["actor_role"] == "tic_operator"
            && !e["actor_id"].as_str().unwrap_or("").is_empty())
    );
    assert_eq!(events[1]["reason"], "test activate");

    // Every committed change was announced on Redis, in order.
    let mut stream = sub.on_message();
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {seen:?} announced"))
            .unwrap_or_else(|| panic!("stream ended"));
        let payload: Vec<u8> = msg.get_payload().unwrap_or_default();
        let ev = towncard_proto::events::CardChanged::decode(payload.as_slice())
            .unwrap_or_else(|e| panic!("{e}"));
        if ev.town_id == t.as_uuid().as_bytes().to_vec() {
            seen.push(ev.change);
        }
    }
    assert_eq!(seen, changes);
}

#[sqlx::test(migrations = "../../migrations")]
async fn other_towns_and_wrong_roles_are_refused(pool: PgPool) {
    let a = app(&pool).await;
    let koper = town(&pool, "koper", 101).await;
    let piran = town(&pool, "piran", 102).await;
    let card = a.issue(koper, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().to_owned();
    let token = a.token_of(koper, &number).await;

    let piran_tic = a.bearer(Role::TicOperator, piran);
    let r = a
        .get(&piran_tic, &format!("/issuing/v1/cards/{number}"))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(act(&a, &piran_tic, &number, "suspend").await.0, 404);
    assert_eq!(
        a.get(&piran_tic, &format!("/issuing/v1/cards/{number}/qr.png"))
            .await
            .status(),
        404
    );
    let (s, body) = a.verify(piran, &token).await;
    assert_eq!((s, code(&body)), (422, "token_wrong_town"));

    let staff = a.bearer(Role::MerchantStaff, koper);
    let r = a
        .post(&staff, "/issuing/v1/cards", json!({"product_code": "KC48"}))
        .await;
    assert_eq!(r.status(), 403);
    let auditor = a.bearer(Role::Auditor, koper);
    assert_eq!(
        a.get(&auditor, &format!("/issuing/v1/cards/{number}"))
            .await
            .status(),
        200
    );
    assert_eq!(act(&a, &auditor, &number, "suspend").await.0, 403);
    assert_eq!(
        a.get("", &format!("/issuing/v1/cards/{number}"))
            .await
            .status(),
        401
    );

    let still: String = sqlx::query_scalar("SELECT status FROM cards WHERE number = $1")
        .bind(number.replace(' ', ""))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(still, "issued");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_benefit_is_used_once_and_its_first_use_starts_the_card(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let admin = a.bearer(Role::TownAdmin, t);
    let products: Vec<Value> = a
        .get(&admin, "/issuing/v1/card-products")
        .await
        .json()
        .await
        .unwrap_or_default();
    let kc48 = products
        .iter()
        .find(|p| p["code"] == "KC48")
        .cloned()
        .unwrap_or_default();
    let benefit = kc48["benefits"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        kc48["benefits"][0]["names"]["it"],
        "Museo regionale: ingresso"
    );

    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default();
    let staff = a.bearer(Role::MerchantStaff, t);
    let path = format!("/issuing/v1/cards/{number}/benefits/{benefit}/use");
    let r = a.post(&staff, &path, json!({})).await;
    assert_eq!(r.status(), 200);
    let used: Value = r.json().await.unwrap_or_default();
    assert_eq!(used["uses_left"], 0);
    let r = a.post(&staff, &path, json!({})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(code(&r.json().await.unwrap_or_default()), "benefit_used_up");
    let now: Value = a
        .get(&admin, &format!("/issuing/v1/cards/{number}"))
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(now["status"], "active");
}

#[sqlx::test(migrations = "../../migrations")]
async fn town_admins_create_products_with_benefits(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let admin = a.bearer(Role::TownAdmin, t);
    let body = json!({
        "code": "SUMMER", "kind": "fixed_dates", "valid_from": "2026-07-01", "valid_to": "2026-08-31",
        "price": "35.00",
        "names": {"sl": "Poletna kartica", "en": "Summer card", "it": "Carta estiva"},
        "benefits": [{"names": {"sl": "Stolp: vstop", "en": "Tower: entry", "it": "Torre: ingresso"}}]
    });
    let r = a
        .post(&admin, "/issuing/v1/card-products", body.clone())
        .await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap_or_default();
    assert_eq!(
        (p["price"].as_str(), p["benefits"][0]["uses"].as_i64()),
        (Some("35.00"), Some(1))
    );
    assert_eq!(
        a.post(&admin, "/issuing/v1/card-products", body.clone())
            .await
            .status(),
        409
    );
    let tic = a.bearer(Role::TicOperator, t);
    assert_eq!(
        a.post(&tic, "/issuing/v1/card-products", body)
            .await
            .status(),
        403
    );
    let bad = json!({"code": "X", "kind": "tourist_hours", "price": "1.00", "names": {"sl": "a", "en": "b", "it": "c"}});
    let r = a.post(&admin, "/issuing/v1/card-products", bad).await;
    assert_eq!(r.status(), 422);
    assert_eq!(code(&r.json().await.unwrap_or_default()), "product_invalid");
    let card = a.issue(t, "SUMMER").await;
    // Valid through 31 August in Koper: until midnight local time (UTC+2 in summer).
    assert_eq!(card["expires_at"], "2026-08-31T22:00:00Z");
}
