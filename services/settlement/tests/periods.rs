//! Periods: month boundaries in Europe/Ljubljana, closing, late events, isolation, roles.

mod common;

use common::{dec, world};
use kernel::Role;
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn month_boundaries_follow_ljubljana_time_across_daylight_saving(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    // 31 March 2026 is summer time (+02:00): the change was on 29 March.
    let last_march = w
        .redeem(0, 0, "M-1", "2026-03-31T23:59:59+02:00", "10.00", "1.00")
        .await;
    let first_april = w
        .redeem(0, 0, "M-2", "2026-04-01T00:00:00+02:00", "10.00", "1.00")
        .await;
    // 31 October 2026 is winter time (+01:00): the change was on 25 October.
    let last_october = w
        .redeem(1, 0, "O-1", "2026-10-31T23:59:59+01:00", "10.00", "1.00")
        .await;
    let first_november = w
        .redeem(1, 0, "O-2", "2026-11-01T00:00:00+01:00", "10.00", "1.00")
        .await;
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    assert_eq!(last_march.period, day("2026-03-01"));
    assert_eq!(first_april.period, day("2026-04-01"));
    assert_eq!(last_october.period, day("2026-10-01"));
    assert_eq!(first_november.period, day("2026-11-01"));
    assert!(!last_march.adjustment && !first_november.adjustment);

    // The statements agree, and each lands on the right local day of its month.
    let t = w.admin_token();
    for (m, last_day_used) in [
        ("2026-03", 30),
        ("2026-04", 0),
        ("2026-10", 30),
        ("2026-11", 0),
    ] {
        let s = w
            .json(&t, &format!("/settlement/v1/periods/{m}/summary"))
            .await;
        assert_eq!(s["totals"]["redemptions"], 1, "{m}");
        let burn = s["burn"].as_array().cloned().unwrap_or_default();
        let first_nonzero = burn
            .iter()
            .position(|v| dec(v) > rust_decimal::Decimal::ZERO);
        assert_eq!(first_nonzero, Some(last_day_used), "{m}: {burn:?}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_closed_period_never_changes_and_late_events_become_adjustments(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    let t = w.admin_token();
    let early = w
        .redeem(0, 0, "R-1", "2026-03-10T10:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(1, 0, "R-2", "2026-03-11T10:00:00+01:00", "20.00", "2.00")
        .await;
    let before = w.json(&t, "/settlement/v1/periods/2026-03/summary").await;
    let (csv_before, _) = w.download(&t, "2026-03", "redemptions.csv").await;

    let r = w.close("2026-03").await;
    assert_eq!(r.status(), 200);
    let closed: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["journal_digest"].as_str().map(str::len), Some(64));
    assert_eq!(w.close("2026-03").await.status(), 409, "closing twice");

    // An offline tablet syncs a March redemption after the close, and a March
    // redemption is voided after the close: both go to April as adjustments.
    let late = w
        .redeem(0, 0, "R-3", "2026-03-31T18:00:00+02:00", "30.00", "3.00")
        .await;
    let late_void = w.void(&early, "2026-04-02T09:00:00+02:00").await;
    let april = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default();
    assert_eq!((late.period, late.adjustment), (april, true));
    assert_eq!((late_void.period, late_void.adjustment), (april, true));

    let after = w.json(&t, "/settlement/v1/periods/2026-03/summary").await;
    assert_eq!(
        before["totals"], after["totals"],
        "a closed period's totals never change"
    );
    assert_eq!(before["merchants"], after["merchants"]);
    let (csv_after, _) = w.download(&t, "2026-03", "redemptions.csv").await;
    assert_eq!(
        csv_before, csv_after,
        "the closed month's listing is unchanged"
    );

    let apr = w.json(&t, "/settlement/v1/periods/2026-04/summary").await;
    // +1.50 (late redemption's 50 % share) − 2.00 (the void of R-1's share)
    assert_eq!(dec(&apr["totals"]["adjustments"]), common::d("-0.50"));
    assert_eq!(apr["totals"]["redemptions"], 1);
    assert_eq!(apr["totals"]["reversals"], 1);
    // Nothing can be written into March any more, even by hand through booking.
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM redemptions WHERE period = '2026-03-01'")
            .fetch_one(&w.admin)
            .await
            .unwrap_or_default();
    assert_eq!(stored, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_current_month_cannot_be_closed_and_exists_on_demand(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    let periods = w.json(&w.admin_token(), "/settlement/v1/periods").await;
    let current = periods[0]["month"].as_str().unwrap_or_default()[..7].to_owned();
    assert_eq!(periods[0]["status"], "open");
    let r = w.close(&current).await;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["code"], "period_not_over");
    assert_eq!(w.close("2026-13").await.status(), 400);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_town_admin_cannot_see_or_close_another_towns_period(admin: PgPool) {
    let koper = world(admin.clone(), "koper", 101).await;
    koper
        .redeem(0, 0, "K-1", "2026-03-10T10:00:00+01:00", "40.00", "4.00")
        .await;
    let (piran, _) = common::town_in(&admin, "piran", 102).await;
    let piran_admin = platform::testing::token(&koper.ctx, Role::TownAdmin, piran, None);

    let r = koper
        .post(
            &piran_admin,
            "/settlement/v1/periods/2026-03/close",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 404, "Piran's admin does not see Koper's March");
    assert_eq!(koper.status("2026-03").await, "open");
    assert_eq!(
        koper
            .get(&piran_admin, "/settlement/v1/periods/2026-03/summary")
            .await
            .status(),
        404
    );
    let m = koper.fx.merchants[0].id;
    let r = koper
        .get(
            &piran_admin,
            &format!("/settlement/v1/periods/2026-03/merchants/{m}/statement"),
        )
        .await;
    assert_eq!(r.status(), 404);
    let theirs = koper.json(&piran_admin, "/settlement/v1/periods").await;
    assert!(
        theirs
            .as_array()
            .is_some_and(|p| p.iter().all(|p| p["month"] != "2026-03-01"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_auditor_reads_everything_but_cannot_close_or_pay(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    w.redeem(0, 0, "A-1", "2026-03-10T10:00:00+01:00", "40.00", "4.00")
        .await;
    let auditor = w.token(Role::Auditor, None);
    assert_eq!(
        w.get(&auditor, "/settlement/v1/periods/2026-03/summary")
            .await
            .status(),
        200
    );
    let r = w
        .post(
            &auditor,
            "/settlement/v1/periods/2026-03/close",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(w.status("2026-03").await, "open");
    assert_eq!(w.close("2026-03").await.status(), 200);
    let r = w
        .post(
            &auditor,
            "/settlement/v1/periods/2026-03/payout",
            serde_json::json!({"bank_reference": "X"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(w.status("2026-03").await, "closed");
    let (_, digest) = w.download(&auditor, "2026-03", "summary.pdf").await;
    assert_eq!(digest.len(), 64);
    // A merchant owner sees its own statement only.
    let own = w.fx.merchants[0].id;
    let other = w.fx.merchants[1].id;
    let owner = w.token(
        Role::MerchantOwner,
        Some(kernel::MerchantId::from_uuid(own)),
    );
    assert_eq!(
        w.get(
            &owner,
            &format!("/settlement/v1/periods/2026-03/merchants/{own}/statement")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        w.get(
            &owner,
            &format!("/settlement/v1/periods/2026-03/merchants/{other}/statement")
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        w.get(&owner, "/settlement/v1/periods/2026-03/summary")
            .await
            .status(),
        403
    );
    assert_eq!(
        w.get(
            &owner,
            "/settlement/v1/periods/2026-03/downloads/redemptions.csv"
        )
        .await
        .status(),
        403
    );
}
