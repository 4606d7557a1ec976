//! Redemption against real Postgres and Redis over HTTP: limits and budgets under
//! concurrency with two service instances, idempotency, void/refund, tenancy.

mod common;

use common::*;
use futures::future::join_all;
use kernel::Role;
use ledger::AccountKind;
use merchant_redemption::Config;
use platform::testing::{context, token};
use rust_decimal_macros::dec;
use serde_json::json;
use sqlx::PgPool;

/// Two service instances (separate pools, separate ports) on one database.
async fn two_instances(admin: &PgPool, config: Config) -> (platform::Context, Api, Api) {
    let ctx = context(admin).await;
    let mut other = ctx.clone();
    other.db = platform::db::connect_as(admin, "towncard_app")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let a = serve(&ctx, config.clone()).await;
    let b = serve(&other, config).await;
    (ctx, a, b)
}

async fn count(admin: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Redeems every card of `cards` at once, the calls dealt to `apis` in turn, the
/// n-th with the key `{prefix}{n}`; the answers in the cards' order.
async fn redeem_all<'a>(
    apis: &[&Api],
    bearer: &str,
    cards: impl IntoIterator<Item = &'a Card>,
    promo: uuid::Uuid,
    basket: &str,
    prefix: &str,
) -> Vec<(u16, serde_json::Value)> {
    join_all(cards.into_iter().enumerate().map(|(i, card)| {
        let api = apis[i % apis.len()];
        async move {
            json_of(
                api.redeem(bearer, &format!("{prefix}{i}"), card, promo, basket)
                    .await,
            )
            .await
        }
    }))
    .await
}

#[sqlx::test(migrations = "../../migrations")]
async fn once_a_day_limit_gives_exactly_one_of_200_concurrent(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let (ctx, a, b) = two_instances(&admin, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 1});
    let promo = promotion(&admin, &t, rules, "50", "1000.00", &[m]).await;
    let card = cards(&admin, &t, 1, 1).await.remove(0);
    let results = redeem_all(&[&a, &b], &bearer, [&card; 200], promo, "20.00", "k").await;
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    let limited = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "card_daily_limit_reached")
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        results.iter().find(|(s, _)| *s != 201 && *s != 409)
    );
    assert_eq!(limited, 199);
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 1);
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM journal_transactions WHERE kind = 'redemption'"
        )
        .await,
        1
    );
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn budget_for_100_gives_exactly_100_of_1000_concurrent(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let (ctx, a, b) = two_instances(&admin, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    // 2.00 off, half co-financed: each redemption takes exactly 1.00 of the budget.
    let rules = json!({"benefit": {"kind": "fixed", "value": "2.00"}});
    let promo = promotion(&admin, &t, rules, "50", "100.00", &[m]).await;
    let cards = cards(&admin, &t, 1, 1000).await;
    let results = redeem_all(&[&a, &b], &bearer, &cards, promo, "10.00", "b").await;
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    let exhausted = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "budget_exhausted")
        .count();
    assert_eq!(
        ok,
        100,
        "{:?}",
        results.iter().find(|(s, _)| *s != 201 && *s != 409)
    );
    assert_eq!(exhausted, 900);
    assert_eq!(
        balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo)).await,
        dec!(0.00)
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            AccountKind::MerchantReceivable,
            Some(m.as_uuid())
        )
        .await,
        dec!(100.00)
    );
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 100);
    audit_clean(&admin).await;
}

/// Transactions that wrote the redemptions: fewer than redemptions when batched.
async fn writing_transactions(admin: &PgPool) -> i64 {
    count(admin, "SELECT count(DISTINCT xmin::text) FROM redemptions").await
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_redeems_are_batched_and_each_gets_its_own_exact_receipt(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    // 10 % of 33.35 is 3.335: the discount rounds to 3.34, the municipality's 30 %
    // of it to 1.00 and the merchant keeps the rest, as without batches.
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 2});
    let promo = promotion(&admin, &t, rules, "30", "1000.00", &[m]).await;
    let cards = cards(&admin, &t, 1, 120).await;
    let results = redeem_all(&[&api], &bearer, &cards, promo, "33.35", "c").await;
    let mut receipts = std::collections::HashSet::new();
    for (s, body) in &results {
        assert_eq!(*s, 201, "{body}");
        assert_eq!(
            (
                body["discount"].as_str(),
                body["municipality_share"].as_str(),
                body["merchant_share"].as_str(),
                body["to_pay"].as_str()
            ),
            (Some("3.34"), Some("1.00"), Some("2.34"), Some("30.01")),
            "{body}"
        );
        assert_eq!(body["limits_left"]["per_day"], "1", "{body}");
        assert_eq!(body["replayed"], false);
        receipts.insert(body["receipt_number"].to_string());
    }
    assert_eq!(receipts.len(), 120);
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 120);
    let transactions = writing_transactions(&admin).await;
    assert!(
        transactions < 120,
        "{transactions} transactions for 120 redemptions"
    );
    assert_eq!(
        balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo)).await,
        dec!(880.00)
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            AccountKind::MerchantReceivable,
            Some(m.as_uuid())
        )
        .await,
        dec!(120.00)
    );
    // Each redemption still has its own journal transaction, chained and balanced.
    assert_eq!(
        count(
            &admin,
            "SELECT count(DISTINCT journal_tx) FROM redemptions r
             JOIN journal_transactions j ON j.id = r.journal_tx
             WHERE j.idempotency_key = 'redemption:' || r.idempotency_key"
        )
        .await,
        120
    );
    // A second round for the same cards: each gets the last of its two a day.
    let again = redeem_all(&[&api], &bearer, &cards, promo, "10.00", "d").await;
    for (s, body) in &again {
        assert_eq!(*s, 201, "{body}");
        assert_eq!(body["limits_left"]["per_day"], "0", "{body}");
    }
    // A batched redemption is voided like any other: the first round, all at once,
    // gives its 120.00 back to the budget and a place back to each card's limit.
    let voids = join_all(results.iter().enumerate().map(|(i, (_, r))| {
        let path = format!(
            "/redemption/v1/redemptions/{}/void",
            r["id"].as_str().unwrap_or_default()
        );
        let (api, bearer) = (&api, &bearer);
        async move {
            json_of(
                api.post(
                    &path,
                    bearer,
                    Some(&format!("v{i}")),
                    json!({"reason": "test"}),
                )
                .await,
            )
            .await
        }
    }))
    .await;
    for (s, body) in &voids {
        assert_eq!(
            (*s, body["status"].as_str()),
            (200, Some("voided")),
            "{body}"
        );
    }
    assert_eq!(
        balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo)).await,
        dec!(964.00)
    );
    let (s, body) = json_of(api.redeem(&bearer, "e0", &cards[0], promo, "10.00").await).await;
    assert_eq!(
        (s, &body["limits_left"]["per_day"]),
        (201, &json!("0")),
        "{body}"
    );
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_scans_are_read_together_and_answer_as_one_by_one(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 2,
                       "per_card_per_merchant": 3});
    let promo = promotion(&admin, &t, rules, "30", "1000.00", &[m]).await;
    let cards = cards(&admin, &t, 1, 60).await;
    // Cards 0-9 used once today, 10-14 twice (nothing left today), 15-19 suspended.
    for (i, c) in cards[..15].iter().enumerate() {
        for round in 0..(1 + usize::from(i >= 10)) {
            let key = format!("u{i}-{round}");
            let (s, body) = json_of(api.redeem(&bearer, &key, c, promo, "20.00").await).await;
            assert_eq!(s, 201, "{body}");
        }
    }
    for c in &cards[15..20] {
        sqlx::query("UPDATE cards SET status = 'suspended' WHERE id = $1")
            .bind(c.id)
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let scan = |c: &Card| {
        api.post(
            "/redemption/v1/scan",
            &bearer,
            None,
            json!({"token": c.token, "basket": "33.35"}),
        )
    };
    // Status and body, but for the error envelope's request id.
    let answer = |r: reqwest::Response| async {
        let (s, mut body) = json_of(r).await;
        if let Some(o) = body.as_object_mut() {
            o.remove("request_id");
        }
        (s, body)
    };
    // One at a time (each alone in its queue), then all at once.
    let mut one_by_one = Vec::new();
    for c in &cards {
        one_by_one.push(answer(scan(c).await).await);
    }
    let before = metric(&ctx, "scans_batched_total");
    let gathers = || metric(&ctx, "redemption_batch_gathers_total{queue=\"scan\"");
    let gathered = gathers();
    let together = join_all(cards.iter().map(|c| async { answer(scan(c).await).await })).await;
    assert!(
        metric(&ctx, "scans_batched_total") > before,
        "no scan was batched"
    );
    assert!(
        gathers() > gathered,
        "no scan batch's gathering was counted"
    );
    assert_eq!(together, one_by_one);
    let left = |n: usize| one_by_one[n].1["offers"][0]["limits_left"]["per_day"].clone();
    assert_eq!(
        (left(0), left(12), left(30)),
        (json!("1"), json!("0"), json!("2"))
    );
    assert_eq!(
        one_by_one[12].1["offers"][0]["refusal"],
        "card_daily_limit_reached"
    );
    assert_eq!(one_by_one[30].1["offers"][0]["discount"], "3.34");
    assert_eq!(
        (one_by_one[16].0, one_by_one[16].1["code"].as_str()),
        (422, Some("card_suspended"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_leaves_refusals_replays_and_conflicts_to_be_decided_one_by_one(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let rules = json!({"benefit": {"kind": "fixed", "value": "2.00"}, "per_card_per_day": 1});
    let promo = promotion(&admin, &t, rules, "50", "1000.00", &[m]).await;
    let cards = cards(&admin, &t, 1, 60).await;
    // Cards 0-9 suspended, 10-19 already redeemed today.
    for c in &cards[..10] {
        sqlx::query("UPDATE cards SET status = 'suspended' WHERE id = $1")
            .bind(c.id)
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (i, c) in cards[10..20].iter().enumerate() {
        let (s, body) = json_of(
            api.redeem(&bearer, &format!("early{i}"), c, promo, "10.00")
                .await,
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    // All at once: the suspended cards, the used ones, 40 good ones, and each good
    // one's key sent a second time with another body (10 of them) or the same one.
    let mut calls = Vec::new();
    for (i, c) in cards.iter().enumerate() {
        calls.push((format!("x{i}"), c, "10.00"));
    }
    for (i, c) in cards[20..30].iter().enumerate() {
        calls.push((format!("x{}", i + 20), c, "99.00"));
    }
    for (i, c) in cards[30..40].iter().enumerate() {
        calls.push((format!("x{}", i + 30), c, "10.00"));
    }
    let results = join_all(calls.iter().map(|(key, card, basket)| {
        let (api, bearer) = (&api, &bearer);
        async move {
            (
                key.clone(),
                json_of(api.redeem(bearer, key, card, promo, basket).await).await,
            )
        }
    }))
    .await;
    // (key number, status, code) of each answer; `n` counts those of a key range.
    let outcomes: Vec<(usize, u16, String)> = results
        .iter()
        .map(|(k, (s, b))| {
            let code = b["code"].as_str().unwrap_or("").to_owned();
            (k[1..].parse().unwrap_or(usize::MAX), *s, code)
        })
        .collect();
    let n = |keys: std::ops::Range<usize>, status: u16, code: &str| {
        outcomes
            .iter()
            .filter(|(i, s, c)| keys.contains(i) && *s == status && (code.is_empty() || c == code))
            .count()
    };
    assert_eq!(n(0..10, 422, "card_suspended"), 10);
    assert_eq!(n(10..20, 409, "card_daily_limit_reached"), 10);
    // Keys 20-29 sent with two bodies: one wins, the other (whichever came second)
    // is a conflict.
    assert_eq!(n(20..30, 201, ""), 10);
    assert_eq!(n(20..30, 409, "idempotency_conflict"), 10);
    // Keys 30-39 sent twice with the same body: one redemption, the other a replay.
    assert_eq!(n(30..40, 201, ""), 10);
    assert_eq!(n(30..40, 200, ""), 10);
    assert_eq!(n(40..60, 201, ""), 20);
    // 10 early + 40 now (keys 20-59), each 1.00 of the budget.
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 50);
    assert_eq!(
        balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo)).await,
        dec!(950.00)
    );
    audit_clean(&admin).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn replay_returns_the_first_receipt_and_key_reuse_is_409(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "max_discount": "2.50"});
    let promo = promotion(&admin, &t, rules, "50", "100.00", &[m]).await;
    let card = cards(&admin, &t, 1, 1).await.remove(0);

    let (s1, first) = json_of(api.redeem(&bearer, "same", &card, promo, "33.35").await).await;
    assert_eq!(s1, 201, "{first}");
    assert_eq!(
        (first["discount"].as_str(), first["to_pay"].as_str()),
        (Some("2.50"), Some("30.85"))
    );
    assert_eq!(
        (
            first["municipality_share"].as_str(),
            first["merchant_share"].as_str()
        ),
        (Some("1.25"), Some("1.25"))
    );
    assert_eq!(first["replayed"], false);

    // The same key and body, concurrently and again: one redemption, the same receipt.
    let again = join_all((0..10).map(|_| api.redeem(&bearer, "same", &card, promo, "33.35"))).await;
    for r in again {
        let (s, body) = json_of(r).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["receipt_number"], first["receipt_number"]);
        assert_eq!(body["replayed"], true);
    }
    let (s, body) = json_of(api.redeem(&bearer, "same", &card, promo, "40.00").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("idempotency_conflict"))
    );
    let (s, body) = json_of(
        api.post(
            "/redemption/v1/redemptions",
            &bearer,
            None,
            json!({"token": card.token, "promotion_id": promo, "basket": "1.00"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("idempotency_key_required"))
    );
    let (s, body) = json_of(
        api.redeem(&bearer, "bad-amount", &card, promo, "1.001")
            .await,
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 1);
    assert_eq!(
        balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo)).await,
        dec!(98.75)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn void_and_refund_reverse_the_ledger(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, bearer) = merchant_with_token(&admin, &ctx, &t, "Loggia", Role::MerchantStaff).await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 1});
    let promo = promotion(&admin, &t, rules, "50", "100.00", &[m]).await;
    let cs = cards(&admin, &t, 1, 3).await;
    let budget = || balance(&admin, t.id, AccountKind::PromotionBudget, Some(promo));

    // Refund in two parts.
    let (_, r) = json_of(api.redeem(&bearer, "r1", &cs[0], promo, "30.00").await).await;
    let id = r["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(budget().await, dec!(98.50));
    let refund = |amount: &str, key: &str| {
        api.post(
            &format!("/redemption/v1/redemptions/{id}/refund"),
            &bearer,
            Some(key),
            json!({"amount": amount}),
        )
    };
    let (s, body) = json_of(refund("10.00", "f1").await).await;
    assert_eq!(
        (s, body["status"].as_str()),
        (200, Some("partially_refunded")),
        "{body}"
    );
    assert_eq!(budget().await, dec!(99.00));
    let (s, _) = json_of(refund("10.00", "f1").await).await;
    assert_eq!(s, 200, "a replayed refund is answered, not repeated");
    assert_eq!(budget().await, dec!(99.00));
    let (s, body) = json_of(refund("25.00", "f2").await).await;
    assert_eq!((s, body["code"].as_str()), (422, Some("refund_too_large")));
    let (s, body) = json_of(refund("20.00", "f3").await).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("refunded")));
    assert_eq!(budget().await, dec!(100.00));
    assert_eq!(
        balance(
            &admin,
            t.id,
            AccountKind::MerchantReceivable,
            Some(m.as_uuid())
        )
        .await,
        dec!(0.00)
    );
    assert_eq!(
        balance(
            &admin,
            t.id,
            AccountKind::MerchantOwnDiscount,
            Some(m.as_uuid())
        )
        .await,
        dec!(0.00)
    );

    // Void: everything back, and the card may use its daily redemption again.
    let (_, r) = json_of(api.redeem(&bearer, "r2", &cs[1], promo, "12.34").await).await;
    let id2 = r["id"].as_str().unwrap_or_default().to_owned();
    let (s, body) = json_of(api.redeem(&bearer, "r3", &cs[1], promo, "12.34").await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("card_daily_limit_reached"))
    );
    let void = |key: &str| {
        api.post(
            &format!("/redemption/v1/redemptions/{id2}/void"),
            &bearer,
            Some(key),
            json!({"reason": "wrong card"}),
        )
    };
    let (s, body) = json_of(void("v1").await).await;
    assert_eq!(
        (s, body["status"].as_str()),
        (200, Some("voided")),
        "{body}"
    );
    assert_eq!(budget().await, dec!(100.00));
    let (s, body) = json_of(void("v2").await).await;
    assert_eq!((s, body["code"].as_str()), (409, Some("already_reversed")));
    let (s, _) = json_of(api.redeem(&bearer, "r4", &cs[1], promo, "12.34").await).await;
    assert_eq!(s, 201);

    let reversals: Vec<(String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT r.kind, t.reverses FROM redemption_reversals r JOIN journal_transactions t ON t.id = r.journal_tx ORDER BY r.recorded_at",
    )
    .fetch_all(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reversals.len(), 3);
    assert!(reversals.iter().all(|(_, rev)| rev.is_some()));
    audit_clean(&admin).await;

    // A void after the window is refused.
    let strict = serve(
        &ctx,
        Config {
            void_window_secs: 0,
            ..unthrottled()
        },
    )
    .await;
    let (_, r) = json_of(strict.redeem(&bearer, "r5", &cs[2], promo, "5.00").await).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id5 = r["id"].as_str().unwrap_or_default();
    let (s, body) = json_of(
        strict
            .post(
                &format!("/redemption/v1/redemptions/{id5}/void"),
                &bearer,
                Some("v5"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("void_window_passed"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn merchants_cannot_act_across_towns_or_for_each_other(admin: PgPool) {
    let a = town(&admin, "koper", 101).await;
    let b = town(&admin, "piran", 102).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (a1, a1_token) = merchant_with_token(&admin, &ctx, &a, "Loggia", Role::MerchantStaff).await;
    let (_a2, a2_token) =
        merchant_with_token(&admin, &ctx, &a, "Libris", Role::MerchantOwner).await;
    let (b1, b1_token) =
        merchant_with_token(&admin, &ctx, &b, "Tartini", Role::MerchantOwner).await;
    let rules = json!({"benefit": {"kind": "percent", "value": "10"}});
    let pa = promotion(&admin, &a, rules.clone(), "50", "100.00", &[a1]).await;
    let pb = promotion(&admin, &b, rules, "50", "100.00", &[b1]).await;
    let card = cards(&admin, &a, 1, 1).await.remove(0);
    let (s, r) = json_of(api.redeem(&a1_token, "x1", &card, pa, "10.00").await).await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap_or_default().to_owned();

    // Another town: its merchant cannot redeem this town's card, see or void its redemption.
    // Town B does not hold town A's QR key, so the token is refused before its town is read.
    let (s, body) = json_of(api.redeem(&b1_token, "x2", &card, pb, "10.00").await).await;
    assert_eq!(s, 422, "{body}");
    assert!(
        matches!(
            body["code"].as_str(),
            Some("token_unknown_key" | "token_wrong_town")
        ),
        "{body}"
    );
    let (s, body) = json_of(api.redeem(&b1_token, "x3", &card, pa, "10.00").await).await;
    assert_eq!(s, 422, "{body}");
    let (s, _) = json_of(
        api.post(
            &format!("/redemption/v1/redemptions/{id}/void"),
            &b1_token,
            Some("x4"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = json_of(
        api.get(&format!("/redemption/v1/redemptions/{id}"), &b1_token)
            .await,
    )
    .await;
    assert_eq!(s, 404);
    let b_admin = token(&ctx, Role::TownAdmin, b.id, None);
    let (s, list) = json_of(
        api.get(
            &format!("/redemption/v1/redemptions?merchant_id={a1}"),
            &b_admin,
        )
        .await,
    )
    .await;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(0)));

    // Another merchant of the same town: no redeeming its offers, no void, no list.
    let (s, body) = json_of(api.redeem(&a2_token, "x5", &card, pa, "10.00").await).await;
    assert_eq!((s, body["code"].as_str()), (404, Some("offer_not_found")));
    let (s, body) = json_of(
        api.post(
            &format!("/redemption/v1/redemptions/{id}/void"),
            &a2_token,
            Some("x6"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("forbidden_merchant"))
    );
    let (s, body) = json_of(
        api.get(
            &format!("/redemption/v1/redemptions?merchant_id={a1}"),
            &a2_token,
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("forbidden_merchant"))
    );
    let (s, _) = json_of(
        api.get(&format!("/redemption/v1/redemptions/{id}"), &a2_token)
            .await,
    )
    .await;
    assert_eq!(s, 403);

    // The merchant itself sees today's list and a printable receipt.
    let (s, list) = json_of(api.get("/redemption/v1/redemptions", &a1_token).await).await;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(1)));
    let text = api
        .get(
            &format!("/redemption/v1/redemptions/{id}/receipt.txt"),
            &a1_token,
        )
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        text.contains("1.00 EUR") && text.contains("Loggia"),
        "{text}"
    );
    assert_eq!(count(&admin, "SELECT count(*) FROM redemptions").await, 1);
}
