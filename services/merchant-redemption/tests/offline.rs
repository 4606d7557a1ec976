//! The tablet's offline side: the pack it caches, syncing queued redemptions
//! exactly once within the device's allowance, PIN lockout, and bad amounts.

mod common;

use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use common::*;
use kernel::{MerchantId, Role};
use merchant_redemption::Config;
use platform::testing::context;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn count(admin: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn at(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item(card: &Card, promo: Uuid, basket: &str, occurred: chrono::DateTime<Utc>) -> Value {
    json!({"id": Uuid::now_v7(), "token": card.token, "card_number": null,
           "promotion_id": promo, "basket": basket, "occurred_at": at(occurred)})
}

/// `end`, or a minute before its local midnight when `end - span` would fall
/// on the local day before: the per-day limits count Ljubljana's days.
fn one_local_day(end: chrono::DateTime<Utc>, span: Duration) -> chrono::DateTime<Utc> {
    let local = end.with_timezone(&chrono_tz::Europe::Ljubljana);
    let midnight = local
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| {
            m.and_local_timezone(chrono_tz::Europe::Ljubljana)
                .earliest()
        })
        .map_or(end, |m| m.with_timezone(&Utc));
    if end - span < midnight {
        midnight - Duration::minutes(1)
    } else {
        end
    }
}

#[test]
fn one_local_day_keeps_a_span_before_local_midnight() {
    let utc = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let span = Duration::minutes(20);
    // 00:05 in Ljubljana (UTC+1): the span would start the day before.
    assert_eq!(
        one_local_day(utc("2026-12-06T23:05:00Z"), span),
        utc("2026-12-06T22:59:00Z")
    );
    // 00:25: the whole span is on the new day.
    assert_eq!(
        one_local_day(utc("2026-12-06T23:25:00Z"), span),
        utc("2026-12-06T23:25:00Z")
    );
}

/// Loggia of Koper, its owner's token, one unlocked tablet, and an offer of 10 % off,
/// half co-financed, from a budget of 100.00 (once a day per card if `per_day`).
struct Shop {
    t: Town,
    api: Api,
    m: MerchantId,
    owner: String,
    tab: Tablet,
    promo: Uuid,
}

async fn loggia(admin: &PgPool, config: Config, per_day: bool) -> Shop {
    let t = town(admin, "koper", 101).await;
    let ctx = context(admin).await;
    let api = serve(&ctx, config).await;
    let (m, owner) = merchant_with_token(admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    let tab = tablet(&api, &owner, m, "ana@loggia.si", "4821").await;
    let mut rules = json!({"benefit": {"kind": "percent", "value": "10"}});
    if per_day {
        rules["per_card_per_day"] = json!(1);
    }
    let promo = promotion(admin, &t, rules, "50", "100.00", &[m]).await;
    Shop {
        t,
        api,
        m,
        owner,
        tab,
        promo,
    }
}

async fn sync(api: &Api, session: &str, items: &[Value]) -> (u16, Value) {
    json_of(
        api.post(
            "/redemption/v1/offline/sync",
            session,
            None,
            json!({ "items": items }),
        )
        .await,
    )
    .await
}

/// (status, code) of each result.
fn outcomes(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn accepted() -> (String, String) {
    ("accepted".into(), String::new())
}

fn rejected(code: &str) -> (String, String) {
    ("rejected".into(), code.into())
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_offline_pack_has_keys_this_shops_offers_and_the_towns_cards(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, owner) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    let (other, _) = merchant_with_token(&admin, &ctx, &t, "Libris", Role::MerchantOwner).await;
    let tab = tablet(&api, &owner, m, "ana@loggia.si", "4821").await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 1});
    let ours = promotion(&admin, &t, rules.clone(), "50", "100.00", &[m]).await;
    let theirs = promotion(&admin, &t, rules.clone(), "50", "100.00", &[other]).await;
    let ended = promotion(&admin, &t, rules.clone(), "50", "0", &[m]).await;
    sqlx::query("UPDATE promotions SET starts_on = current_date - 10, ends_on = current_date - 5 WHERE id = $1")
        .bind(ended)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cs = cards(&admin, &t, 1, 3).await;
    // A lost card replaced (new token serial), and an erased one.
    sqlx::query("UPDATE cards SET token_serial = 2 WHERE id = $1")
        .bind(cs[0].id)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE cards SET erased_at = now() WHERE id = $1")
        .bind(cs[2].id)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (s, pack) = json_of(
        api.get("/redemption/v1/devices/offline-pack", &tab.session)
            .await,
    )
    .await;
    assert_eq!(s, 200, "{pack}");
    assert_eq!(pack["town"]["slug"], "koper");
    assert_eq!(pack["town"]["code"], 101);
    assert_eq!(pack["town"]["time_zone"], "Europe/Ljubljana");
    assert_eq!(pack["merchant"]["id"], m.to_string());
    assert_eq!(pack["merchant"]["name"], "Loggia");
    assert_eq!(pack["device"]["id"], tab.device);
    assert_eq!(pack["device"]["name"], "Blagajna 1");
    assert_eq!(pack["allowance"], json!({"count": 20, "amount": "100.00"}));
    let issued: chrono::DateTime<Utc> =
        serde_json::from_value(pack["issued_at"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let until: chrono::DateTime<Utc> =
        serde_json::from_value(pack["valid_until"].clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(until - issued, Duration::hours(72));

    let keys = pack["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], t.kid);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(keys[0]["public_key"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(raw.len(), 32);
    assert_eq!(raw.as_slice(), t.key.verifying_key().as_bytes());

    let offers = pack["offers"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = offers
        .iter()
        .filter_map(|o| o["promotion_id"].as_str())
        .collect();
    assert_eq!(ids, vec![ours.to_string()], "only this shop's open offers");
    assert_ne!(ids, vec![theirs.to_string()]);
    assert_eq!(offers[0]["rules"], rules);
    assert_eq!(offers[0]["co_financing_percent"], "50");
    assert_eq!(offers[0]["own_offer"], false);

    let listed = pack["cards"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2, "erased cards are left out: {listed:?}");
    assert_eq!(listed[0][0], cs[0].id.to_string());
    assert_eq!(listed[0][1], cs[0].number);
    assert_eq!(listed[0][2], 2, "a replaced card has its new serial");
    assert_eq!(listed[0][3], "KC48");
    assert_eq!(listed[0][4], "active");
    assert!(listed[0][5].is_string());

    // Not a tablet session, then a revoked tablet.
    let laptop = api.get("/redemption/v1/devices/offline-pack", &owner).await;
    let (s, body) = json_of(laptop).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("device_required")));
    let r = api
        .post(
            &format!("/redemption/v1/merchants/{m}/devices/{}/revoke", tab.device),
            &owner,
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 204);
    let (s, body) = json_of(
        api.get("/redemption/v1/devices/offline-pack", &tab.session)
            .await,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (401, Some("device_revoked")));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_synced_batch_is_booked_once_however_often_it_is_sent(admin: PgPool) {
    let Shop {
        t,
        api,
        m,
        owner,
        tab,
        promo,
        ..
    } = loggia(&admin, unthrottled(), true).await;
    let cs = cards(&admin, &t, 1, 2).await;
    let now = Utc::now();
    let last = one_local_day(now - Duration::minutes(10), Duration::minutes(20));
    let a = item(&cs[0], promo, "20.00", last - Duration::minutes(20));
    let b = item(&cs[1], promo, "10.00", last - Duration::minutes(10));
    // The same card again that day: its per-day limit refuses it.
    let c = item(&cs[0], promo, "10.00", last);

    let (s, first) = sync(&api, &tab.session, std::slice::from_ref(&a)).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(outcomes(&first), vec![accepted()]);
    let receipt = first["results"][0]["receipt"].clone();
    assert_eq!(receipt["replayed"], false);
    assert_eq!(receipt["discount"], "2.00");
    assert_eq!(receipt["municipality_share"], "1.00");
    assert_eq!(receipt["device_id"], tab.device);
    assert_eq!(receipt["occurred_at"], a["occurred_at"]);

    let all = [a.clone(), b.clone(), c.clone()];
    let (s, second) = sync(&api, &tab.session, &all).await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(
        outcomes(&second),
        vec![accepted(), accepted(), rejected("card_daily_limit_reached")]
    );
    assert_eq!(second["results"][0]["id"], a["id"]);
    assert_eq!(second["results"][0]["receipt"]["replayed"], true);
    assert_eq!(
        second["results"][0]["receipt"]["receipt_number"],
        receipt["receipt_number"]
    );
    let redemptions = count(&admin, "SELECT count(*) FROM redemptions").await;
    let journal = count(&admin, "SELECT count(*) FROM journal_transactions").await;
    assert_eq!(redemptions, 2);
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM redemptions r JOIN journal_transactions j ON j.id = r.journal_tx"
        )
        .await,
        2,
        "each accepted item has its ledger posting"
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::MerchantReceivable,
            Some(m.as_uuid())
        )
        .await,
        dec!(1.50)
    );

    // The whole batch again: the same answers, nothing new.
    let (s, third) = sync(&api, &tab.session, &all).await;
    assert_eq!(s, 200, "{third}");
    assert_eq!(outcomes(&third), outcomes(&second));
    assert_eq!(
        count(&admin, "SELECT count(*) FROM redemptions").await,
        redemptions
    );
    assert_eq!(
        count(&admin, "SELECT count(*) FROM journal_transactions").await,
        journal
    );

    // The same id with another body is not the same item.
    let mut changed = b.clone();
    changed["basket"] = json!("99.00");
    let (_, body) = sync(&api, &tab.session, &[changed]).await;
    assert_eq!(outcomes(&body), vec![rejected("idempotency_conflict")]);
    assert_eq!(
        count(&admin, "SELECT count(*) FROM redemptions").await,
        redemptions
    );

    // Out of the time window, a bad amount, no card: rejected items, not errors.
    let mut no_card = item(&cs[1], promo, "5.00", now);
    no_card["token"] = Value::Null;
    let bad = [
        item(&cs[1], promo, "10.00", now - Duration::hours(73)),
        item(&cs[1], promo, "10.00", now + Duration::minutes(10)),
        item(&cs[1], promo, "0", now),
        item(&cs[1], promo, "-5.00", now),
        item(&cs[1], promo, "1.005", now),
        no_card,
    ];
    let (s, body) = sync(&api, &tab.session, &bad).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        outcomes(&body),
        vec![
            rejected("offline_item_stale"),
            rejected("offline_clock_skew"),
            rejected("invalid_amount"),
            rejected("invalid_amount"),
            rejected("invalid_amount"),
            rejected("card_required"),
        ]
    );
    let (_, again) = sync(&api, &tab.session, &bad).await;
    assert_eq!(
        outcomes(&again),
        outcomes(&body),
        "rejections are stored too"
    );
    assert_eq!(
        count(&admin, "SELECT count(*) FROM redemptions").await,
        redemptions
    );
    assert_eq!(
        count(&admin, "SELECT count(*) FROM offline_sync_items").await,
        9
    );

    let too_many: Vec<Value> = (0..201).map(|_| item(&cs[1], promo, "1.00", now)).collect();
    let (s, body) = sync(&api, &tab.session, &too_many).await;
    assert_eq!((s, body["code"].as_str()), (422, Some("batch_too_large")));
    let (s, body) = sync(&api, &owner, std::slice::from_ref(&b)).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("device_required")));
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_offline_allowance_bounds_count_and_amount_per_tablet_and_day(admin: PgPool) {
    let config = Config {
        offline_max_count: 2,
        offline_max_amount: kernel::Money::from_cents(500),
        ..unthrottled()
    };
    let Shop {
        t,
        api,
        m,
        tab,
        promo,
        ..
    } = loggia(&admin, config, false).await;
    sqlx::query("UPDATE promotions SET starts_on = current_date - 5 WHERE id = $1")
        .bind(promo)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cs = cards(&admin, &t, 1, 5).await;
    let now = Utc::now() - Duration::minutes(5);
    let (s, pack) = json_of(
        api.get("/redemption/v1/devices/offline-pack", &tab.session)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(pack["allowance"], json!({"count": 2, "amount": "5.00"}));

    // Count: two a day (municipality 0.50 each).
    let today = [
        item(&cs[0], promo, "10.00", now),
        item(&cs[1], promo, "10.00", now),
        item(&cs[2], promo, "10.00", now),
    ];
    let (s, body) = sync(&api, &tab.session, &today).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        outcomes(&body),
        vec![
            accepted(),
            accepted(),
            rejected("offline_allowance_exceeded")
        ]
    );

    // Amount: another local day, the municipality's 3.00 then 3.00 more than 5.00.
    let yesterday = now - Duration::hours(30);
    let day = [
        item(&cs[3], promo, "60.00", yesterday),
        item(&cs[4], promo, "60.00", yesterday),
    ];
    let (_, body) = sync(&api, &tab.session, &day).await;
    assert_eq!(
        outcomes(&body),
        vec![accepted(), rejected("offline_allowance_exceeded")]
    );
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 3);
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::MerchantReceivable,
            Some(m.as_uuid())
        )
        .await,
        dec!(4.00)
    );
    // A refused item gave back what it took from the budget.
    assert_eq!(
        balance(
            &admin,
            t.id,
            ledger::AccountKind::PromotionBudget,
            Some(promo)
        )
        .await,
        dec!(96.00)
    );
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_revoked_tablets_batch_is_refused_whole(admin: PgPool) {
    let Shop {
        t,
        api,
        m,
        owner,
        tab,
        promo,
        ..
    } = loggia(&admin, unthrottled(), false).await;
    let cs = cards(&admin, &t, 1, 2).await;
    let r = api
        .post(
            &format!("/redemption/v1/merchants/{m}/devices/{}/revoke", tab.device),
            &owner,
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 204);
    let now = Utc::now();
    let batch = [
        item(&cs[0], promo, "10.00", now - Duration::hours(2)),
        item(&cs[1], promo, "10.00", now - Duration::hours(1)),
    ];
    let (s, body) = sync(&api, &tab.session, &batch).await;
    assert_eq!((s, body["code"].as_str()), (401, Some("device_revoked")));
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 0);
    assert_eq!(
        count(&admin, "SELECT count(*) FROM offline_sync_items").await,
        0
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM journal_transactions WHERE kind <> 'budget_funding'"
        )
        .await,
        0
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn five_wrong_pins_lock_the_pin_until_the_owner_sets_a_new_one(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, owner) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantOwner).await;
    let (other, other_owner) =
        merchant_with_token(&admin, &ctx, &t, "Libris", Role::MerchantOwner).await;
    let email = "ana@loggia.si";
    let tab = tablet(&api, &owner, m, email, "4821").await;

    for left in (1..=4).rev() {
        let (s, body) = json_of(unlock(&api, &tab.credential, email, "0000").await).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("{left} attempts left")),
            "{message}"
        );
    }
    let (s, body) = json_of(unlock(&api, &tab.credential, email, "0000").await).await;
    assert_eq!((s, body["code"].as_str()), (423, Some("pin_locked")));
    let (s, body) = json_of(unlock(&api, &tab.credential, email, "4821").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (423, Some("pin_locked")),
        "the right PIN does not open a locked PIN"
    );

    let set_pin = |bearer: &str, merchant: MerchantId, pin: &str| {
        let req = api
            .http
            .put(format!(
                "{}/redemption/v1/merchants/{merchant}/staff/{}/pin",
                api.base, tab.staff
            ))
            .bearer_auth(bearer)
            .json(&json!({ "pin": pin }));
        async move { req.send().await.unwrap_or_else(|e| panic!("{e}")) }
    };
    assert_eq!(
        set_pin(&other_owner, m, "5555").await.status().as_u16(),
        403
    );
    let (s, body) = json_of(set_pin(&other_owner, other, "5555").await).await;
    assert_eq!((s, body["code"].as_str()), (404, Some("staff_not_found")));
    let (s, body) = json_of(set_pin(&owner, m, "12").await).await;
    assert_eq!((s, body["code"].as_str()), (422, Some("invalid_pin")));
    assert_eq!(set_pin(&owner, m, "7310").await.status().as_u16(), 204);

    let (s, body) = json_of(unlock(&api, &tab.credential, email, "4821").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("invalid_credentials")),
        "the old PIN is gone"
    );
    let (s, body) = json_of(unlock(&api, &tab.credential, email, "7310").await).await;
    assert_eq!(s, 200, "{body}");
    let failures: i32 = sqlx::query_scalar("SELECT pin_failures FROM staff_users WHERE email = $1")
        .bind(email)
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures, 0, "a right PIN resets the count");

    // A lock also ends by itself after 15 minutes; the count then starts again.
    for _ in 0..5 {
        unlock(&api, &tab.credential, email, "0000").await;
    }
    sqlx::query(
        "UPDATE staff_users SET pin_locked_until = now() - interval '1 second' WHERE email = $1",
    )
    .bind(email)
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (s, body) = json_of(unlock(&api, &tab.credential, email, "0000").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4 attempts left")
    );
    let (s, _) = json_of(unlock(&api, &tab.credential, email, "7310").await).await;
    assert_eq!(s, 200);
}

#[sqlx::test(migrations = "../../migrations")]
async fn zero_negative_and_sub_cent_amounts_are_invalid_amount(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let promo = promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "percent", "value": "10"}}),
        "50",
        "100.00",
        &[m],
    )
    .await;
    let card = cards(&admin, &t, 1, 1).await.remove(0);
    let bad = [
        json!("0"),
        json!("-1.00"),
        json!("1.005"),
        json!(12.5),
        json!("abc"),
    ];
    for basket in &bad {
        let (s, body) = json_of(
            api.post(
                "/redemption/v1/scan",
                &bearer,
                None,
                json!({"token": card.token, "basket": basket}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (422, Some("invalid_amount")),
            "scan {basket}"
        );
        let (s, body) = json_of(
            api.post(
                "/redemption/v1/redemptions",
                &bearer,
                Some(&format!("bad-{basket}")),
                json!({"token": card.token, "promotion_id": promo, "basket": basket}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (422, Some("invalid_amount")),
            "redeem {basket}"
        );
    }
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 0);
    let (s, body) = json_of(
        api.redeem(&bearer, "offline:x:y", &card, promo, "20.00")
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("idempotency_key_required")),
        "offline sync's keys are its own"
    );
    let (s, r) = json_of(api.redeem(&bearer, "ok", &card, promo, "20.00").await).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap_or_default();
    for (i, amount) in bad.iter().enumerate() {
        let (s, body) = json_of(
            api.post(
                &format!("/redemption/v1/redemptions/{id}/refund"),
                &bearer,
                Some(&format!("refund-{i}")),
                json!({ "amount": amount }),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str()),
            (422, Some("invalid_amount")),
            "refund {amount}"
        );
    }
    assert_eq!(
        count(&admin, "SELECT count(*) FROM redemption_reversals").await,
        0
    );
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_same_batch_synced_twice_at_once_is_booked_once(admin: PgPool) {
    let Shop {
        t, api, tab, promo, ..
    } = loggia(&admin, unthrottled(), false).await;
    let cs = cards(&admin, &t, 1, 8).await;
    let now = Utc::now() - Duration::minutes(1);
    let batch: Vec<Value> = cs.iter().map(|c| item(c, promo, "10.00", now)).collect();
    let (one, two) = tokio::join!(
        sync(&api, &tab.session, &batch),
        sync(&api, &tab.session, &batch)
    );
    assert_eq!((one.0, two.0), (200, 200), "{} {}", one.1, two.1);
    assert_eq!(outcomes(&one.1), vec![accepted(); 8]);
    assert_eq!(outcomes(&two.1), vec![accepted(); 8]);
    for i in 0..8 {
        assert_eq!(
            one.1["results"][i]["receipt"]["id"],
            two.1["results"][i]["receipt"]["id"]
        );
    }
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 8);
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_item_of_a_closed_period_is_booked_as_an_adjustment(admin: PgPool) {
    let Shop {
        t, api, tab, promo, ..
    } = loggia(&admin, unthrottled(), false).await;
    let card = cards(&admin, &t, 1, 1).await.remove(0);
    let occurred = Utc::now() - Duration::minutes(1);
    sqlx::query(
        "INSERT INTO settlement_periods (town_id, month, status, closed_at)
         VALUES ($1, natural_period($1, $2), 'closed', now())",
    )
    .bind(t.id.as_uuid())
    .bind(occurred)
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (s, body) = sync(&api, &tab.session, &[item(&card, promo, "10.00", occurred)]).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(outcomes(&body), vec![accepted()]);
    let (adjustment, later): (bool, bool) = sqlx::query_as(
        "SELECT adjustment, period > natural_period(town_id, occurred_at) FROM redemptions",
    )
    .fetch_one(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((adjustment, later), (true, true));
}
