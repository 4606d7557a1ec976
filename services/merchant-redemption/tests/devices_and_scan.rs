//! Tablets (enrol with a one-time code, unlock with a PIN, revoke), scanning
//! (offers with discounts, tourist-card activation, replaced tokens), promotions
//! through the API (funding, joining with approval, own offers) and points.

mod common;

use common::*;
use kernel::{CardId, Role};
use platform::testing::{context, token};
use rust_decimal_macros::dec;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn a_tablet_is_enrolled_unlocked_with_a_pin_and_revoked(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, owner) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    let (s, staff) = json_of(api.post(&format!("/redemption/v1/merchants/{m}/staff"), &owner, None,
        json!({"email": "ana@loggia.si", "display_name": "Ana", "password": "dolgo-geslo-1", "pin": "4821"})).await).await;
    assert_eq!(s, 201, "{staff}");
    let (s, code) = json_of(
        api.post(
            &format!("/redemption/v1/merchants/{m}/enrolment-codes"),
            &owner,
            None,
            json!({"device_name": "Blagajna"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{code}");
    let enrol = json!({"town": "koper", "code": code["code"]});
    let (s, dev) = json_of(
        api.post("/redemption/v1/devices/enrol", "", None, enrol.clone())
            .await,
    )
    .await;
    assert_eq!(s, 201, "{dev}");
    let (s, again) = json_of(
        api.post("/redemption/v1/devices/enrol", "", None, enrol)
            .await,
    )
    .await;
    assert_eq!(
        (s, again["code"].as_str()),
        (401, Some("invalid_code")),
        "a code works once"
    );
    let credential = dev["credential"].as_str().unwrap_or_default();

    let unlock = |pin: &str| {
        api.post(
            "/redemption/v1/devices/unlock",
            "",
            None,
            json!({"credential": credential, "email": "ana@loggia.si", "pin": pin}),
        )
    };
    let (s, body) = json_of(unlock("0000").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (s, session) = json_of(unlock("4821").await).await;
    assert_eq!(s, 200, "{session}");
    let tablet = session["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let promo = promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "percent", "value": "10"}}),
        "50",
        "100.00",
        &[m],
    )
    .await;
    let cs = cards(&admin, &t, 1, 2).await;
    let (s, r) = json_of(api.redeem(&tablet, "d1", &cs[0], promo, "10.00").await).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["device_id"], dev["device_id"]);

    let device = dev["device_id"].as_str().unwrap_or_default();
    let (_, other_owner) =
        merchant_with_token(&admin, &ctx, &t, "Libris", Role::MerchantOwner).await;
    let (s, _) = json_of(
        api.post(
            &format!("/redemption/v1/merchants/{m}/devices/{device}/revoke"),
            &other_owner,
            None,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403, "another merchant cannot revoke this tablet");
    let revoked = api
        .post(
            &format!("/redemption/v1/merchants/{m}/devices/{device}/revoke"),
            &owner,
            None,
            json!({}),
        )
        .await;
    assert_eq!(revoked.status().as_u16(), 204);
    let (s, body) = json_of(api.redeem(&tablet, "d2", &cs[1], promo, "10.00").await).await;
    assert_eq!((s, body["code"].as_str()), (401, Some("device_revoked")));
    let (s, body) = json_of(unlock("4821").await).await;
    assert_eq!((s, body["code"].as_str()), (401, Some("device_revoked")));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tablet_over_its_own_rate_is_refused_in_batches_as_alone(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let mut config = unthrottled();
    config.device_rate = merchant_redemption::ratelimit::Rate {
        per_minute: 1,
        burst: 4,
    };
    let api = serve(&ctx, config).await;
    let (m, owner) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    let promo = promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "percent", "value": "10"}}),
        "50",
        "100.00",
        &[m],
    )
    .await;
    let cs = cards(&admin, &t, 1, 12).await;
    let codes = |answers: Vec<(u16, serde_json::Value)>| {
        let mut c: Vec<String> = answers
            .iter()
            .map(|(s, b)| format!("{s} {}", b["code"].as_str().unwrap_or("")))
            .collect();
        c.sort();
        c
    };

    // Six scans at once from one tablet (read in batches): four pass, two are throttled.
    let a = tablet(&api, &owner, m, "ana@loggia.si", "4821")
        .await
        .session;
    let scans = cs[..6].iter().map(|c| {
        let r = api.post("/redemption/v1/scan", &a, None, json!({"token": c.token}));
        async move { json_of(r.await).await }
    });
    let answers = futures::future::join_all(scans).await;
    assert_eq!(
        codes(answers),
        [
            "200 ",
            "200 ",
            "200 ",
            "200 ",
            "429 rate_limited",
            "429 rate_limited"
        ]
    );
    let (s, body) = json_of(api.redeem(&a, "a1", &cs[0], promo, "10.00").await).await;
    assert_eq!((s, body["code"].as_str()), (429, Some("rate_limited")));

    // Six redeems at once from another tablet (its own limit; written in batches):
    // four written.
    let b = tablet(&api, &owner, m, "bojan@loggia.si", "4821").await;
    let redeems = cs[6..].iter().enumerate().map(|(n, c)| {
        let r = api.redeem(&b.session, &format!("b{n}"), c, promo, "10.00");
        async move { json_of(r.await).await }
    });
    let answers = futures::future::join_all(redeems).await;
    assert_eq!(
        codes(answers),
        [
            "201 ",
            "201 ",
            "201 ",
            "201 ",
            "429 rate_limited",
            "429 rate_limited"
        ]
    );
    let written: i64 =
        sqlx::query_scalar("SELECT count(*) FROM redemptions WHERE device_id::text = $1")
            .bind(&b.device)
            .fetch_one(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, 4, "a throttled redeem writes nothing");
}

#[sqlx::test(migrations = "../../migrations")]
async fn scan_lists_offers_activates_tourist_cards_and_refuses_old_tokens(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    promotion(&admin, &t, json!({"benefit": {"kind": "percent", "value": "10"}, "min_basket": "5.00", "per_card_per_day": 2}), "50", "100.00", &[m]).await;
    promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "fixed", "value": "3.00"}, "eligible_products": ["RES"]}),
        "100",
        "100.00",
        &[m],
    )
    .await;
    let card = cards(&admin, &t, 1, 1).await.remove(0);
    sqlx::query(
        "UPDATE cards SET status = 'issued', activated_at = NULL, expires_at = NULL WHERE id = $1",
    )
    .bind(card.id)
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let scan = |body: serde_json::Value| api.post("/redemption/v1/scan", &bearer, None, body);
    let (s, body) = json_of(scan(json!({"token": card.token, "basket": "24.90"})).await).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["card"]["status"], "active",
        "a tourist card starts at its first scan"
    );
    let offers = body["offers"].as_array().cloned().unwrap_or_default();
    let pct = offers
        .iter()
        .find(|o| o["benefit"]["kind"] == "percent")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            pct["available"].as_bool(),
            pct["discount"].as_str(),
            pct["to_pay"].as_str()
        ),
        (Some(true), Some("2.49"), Some("22.41"))
    );
    assert_eq!(pct["limits_left"]["per_day"], "2");
    let fixed = offers
        .iter()
        .find(|o| o["benefit"]["kind"] == "fixed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(fixed["refusal"], "card_product_not_eligible");
    let expires: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT expires_at FROM cards WHERE id = $1")
            .bind(card.id)
            .fetch_one(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let hours = expires.map(|e| (e - chrono::Utc::now()).num_hours());
    assert_eq!(hours, Some(47));

    let (s, body) = json_of(scan(json!({"card_number": card.number})).await).await;
    assert_eq!(s, 200, "a typed card number works too: {body}");
    let (s, body) = json_of(scan(json!({"card_number": "123"})).await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (422, Some("card_number_invalid"))
    );

    sqlx::query("UPDATE cards SET token_serial = 2 WHERE id = $1")
        .bind(card.id)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Card-issuing announces the replacement; the cache drops the card.
    let mut conn = ctx.redis.clone();
    let ev = towncard_proto::events::CardChanged {
        town_id: t.id.as_uuid().as_bytes().to_vec(),
        card_id: card.id.as_bytes().to_vec(),
        change: "replaced".into(),
        token_serial: 2,
        at_ms: 0,
    };
    let _: i64 = redis::cmd("PUBLISH")
        .arg("towncard.cards")
        .arg(prost::Message::encode_to_vec(&ev))
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (s, body) = json_of(scan(json!({"token": card.token})).await).await;
    assert_eq!((s, body["code"].as_str()), (422, Some("card_replaced")));
    let claim = cardtoken::Claim {
        town_code: t.code,
        card_id: CardId::from_uuid(card.id),
        token_serial: 2,
    };
    let (s, _) =
        json_of(scan(json!({"token": cardtoken::encode(&claim, &t.kid, &t.key)})).await).await;
    assert_eq!(s, 200);
    let forged = cardtoken::encode(
        &claim,
        &t.kid,
        &ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
    );
    let (s, body) = json_of(scan(json!({"token": forged})).await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (422, Some("token_bad_signature"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn promotions_are_funded_joined_with_approval_and_points_are_ledgered(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let town_admin = token(&ctx, Role::TownAdmin, t.id, None);
    let (m, owner) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    // The town's day, not UTC's: an hour before UTC midnight it is already tomorrow.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Ljubljana)
        .date_naive();
    let body = json!({"name": "Razvajaj se v mestu", "co_financing_percent": "50", "starts_on": today.pred_opt(), "ends_on": today.succ_opt(),
        "requires_approval": true, "budget_total": "500.00", "rules": {"benefit": {"kind": "percent", "value": "10"}, "budget_per_merchant": "1.00"}});
    let (s, p) = json_of(
        api.post("/redemption/v1/promotions", &town_admin, None, body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let (s, _) = json_of(
        api.post("/redemption/v1/promotions", &owner, None, body)
            .await,
    )
    .await;
    assert_eq!(s, 403, "only the town creates joint promotions");
    let pid: uuid::Uuid = p["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::PromotionBudget,
            Some(pid)
        )
        .await,
        dec!(500.00)
    );

    let (s, j) = json_of(
        api.post(
            &format!("/redemption/v1/promotions/{pid}/join"),
            &owner,
            None,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((s, j["status"].as_str()), (200, Some("pending")));
    let cs = cards(&admin, &t, 1, 4).await;
    let (s, body) = json_of(api.redeem(&owner, "p1", &cs[0], pid, "10.00").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (404, Some("offer_not_found")),
        "not before approval"
    );
    let (s, j) = json_of(
        api.post(
            &format!("/redemption/v1/promotions/{pid}/merchants/{m}/approve"),
            &town_admin,
            None,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((s, j["status"].as_str()), (200, Some("approved")));
    // Budget per merchant 1.00: two redemptions of 0.50 fit, the third does not.
    for (i, c) in cs.iter().take(2).enumerate() {
        let (s, body) = json_of(
            api.redeem(&owner, &format!("p{}", i + 2), c, pid, "10.00")
                .await,
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    let (s, body) = json_of(api.redeem(&owner, "p9", &cs[2], pid, "10.00").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("merchant_budget_exhausted"))
    );

    // An own offer: 0 % co-financing, stamps earned in the ledger, spent on a reward.
    let own = json!({"name": "Žig", "co_financing_percent": "0", "starts_on": today, "ends_on": today, "own_offer": true,
        "rules": {"benefit": {"kind": "stamps", "value": 5}}});
    let (s, o) = json_of(
        api.post("/redemption/v1/promotions", &owner, None, own)
            .await,
    )
    .await;
    assert_eq!(s, 201, "{o}");
    let reward = json!({"name": "Kava gratis", "co_financing_percent": "0", "starts_on": today, "ends_on": today, "own_offer": true,
        "rules": {"benefit": {"kind": "free_entry"}, "points_cost": 5}});
    let (_, rw) = json_of(
        api.post("/redemption/v1/promotions", &owner, None, reward)
            .await,
    )
    .await;
    let (oid, rid) = (
        o["id"].as_str().unwrap_or_default(),
        rw["id"].as_str().unwrap_or_default(),
    );
    let redeem = |key: &str, promo: &str| {
        let body = json!({"token": cs[3].token, "promotion_id": promo, "basket": "1.80"});
        api.post("/redemption/v1/redemptions", &owner, Some(key), body)
    };
    let (s, body) = json_of(redeem("s0", rid).await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("points_insufficient"))
    );
    let (s, body) = json_of(redeem("s1", oid).await).await;
    assert_eq!(
        (s, body["points_earned"].as_i64()),
        (201, Some(5)),
        "{body}"
    );
    let (s, body) = json_of(redeem("s2", rid).await).await;
    assert_eq!(
        (s, body["discount"].as_str(), body["points_spent"].as_i64()),
        (201, Some("1.80"), Some(5)),
        "{body}"
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::CardPoints,
            Some(cs[3].id)
        )
        .await,
        dec!(0)
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::MerchantOwnDiscount,
            Some(m.as_uuid())
        )
        .await,
        dec!(2.80)
    );
    audit_clean(&admin).await;
}
