//! A card's way through the three services, each its own process: sold at the desk
//! (card-issuing), activated and used at a counter (merchant-redemption, two
//! instances), and counted in the town's month (settlement).

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use towncard_system_tests::{PASSWORD, PIN, System, Town, text, today};

/// The town's summary of `month` at settlement (live while the month is open).
async fn summary(sys: &System, town: &Town, month: &str) -> Value {
    let (s, v) = sys
        .get(
            &sys.settlement,
            &format!("/settlement/v1/periods/{month}/summary"),
            &town.admin,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

#[sqlx::test(migrations = "../migrations")]
async fn a_card_goes_from_the_desk_to_the_counter_to_the_months_statement(admin_db: PgPool) {
    let sys = System::start(&admin_db).await;
    let town = Town::set_up(&sys, &admin_db, "koper", 101).await;
    let [a, b] = &sys.redemption;
    let (number, token) = town.sell_card(&sys).await;

    // Sold, not yet active: a tourist card's 48 hours start at its first scan.
    let (s, card) = sys
        .get(
            &sys.issuing,
            &format!("/issuing/v1/cards/{number}"),
            &town.desk,
        )
        .await;
    assert_eq!((s, text(&card["status"])), (200, "issued".into()), "{card}");

    let (s, scan) = town.scan(&sys, a, &token, "25.00").await;
    assert_eq!(s, 200, "{scan}");
    assert_eq!(text(&scan["card"]["status"]), "active", "{scan}");
    let offer = &scan["offers"][0];
    assert_eq!(
        (
            offer["available"].as_bool(),
            text(&offer["discount"]),
            text(&offer["to_pay"]),
            text(&offer["municipality_share"]),
        ),
        (Some(true), "2.50".into(), "22.50".into(), "1.25".into()),
        "{scan}"
    );
    let (_, card) = sys
        .get(
            &sys.issuing,
            &format!("/issuing/v1/cards/{number}"),
            &town.desk,
        )
        .await;
    assert_eq!(
        text(&card["status"]),
        "active",
        "the desk sees the activation at the counter: {card}"
    );

    // Redeemed at one instance; the same request at the other is the same receipt.
    let redeem = json!({"token": token, "promotion_id": town.promotion, "basket": "25.00"});
    let send = |at: &str| {
        sys.call(
            Method::POST,
            format!("{at}/redemption/v1/redemptions"),
            &town.tablet,
            Some("blagajna-1-0001"),
            Some(redeem.clone()),
        )
    };
    let (s, receipt) = send(b).await;
    assert_eq!(s, 201, "{receipt}");
    assert_eq!(
        (
            text(&receipt["discount"]),
            text(&receipt["to_pay"]),
            text(&receipt["municipality_share"]),
            text(&receipt["merchant_share"]),
        ),
        ("2.50".into(), "22.50".into(), "1.25".into(), "1.25".into())
    );
    let (s, again) = send(a).await;
    assert_eq!(
        (s, again["replayed"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(again["receipt_number"], receipt["receipt_number"]);

    // The town's month, live, at settlement: the one redemption, to the cent.
    let month = today().format("%Y-%m").to_string();
    let v = summary(&sys, &town, &month).await;
    let t = &v["totals"];
    assert_eq!(
        (
            t["redemptions"].as_i64(),
            text(&t["basket"]),
            text(&t["discount"]),
            text(&t["municipality"]),
            text(&t["merchant_share"]),
        ),
        (
            Some(1),
            "25.00".into(),
            "2.50".into(),
            "1.25".into(),
            "1.25".into()
        ),
        "{v}"
    );
    assert_eq!(text(&v["promotions"][0]["budget_left"]), "98.75", "{v}");
    let (s, st) = sys
        .get(
            &sys.settlement,
            &format!(
                "/settlement/v1/periods/{month}/merchants/{}/statement",
                town.merchant
            ),
            &town.owner,
        )
        .await;
    assert_eq!((s, text(&st["municipality"])), (200, "1.25".into()), "{st}");

    // Voided at the other instance: the month nets to nothing, the budget is whole.
    let id = text(&receipt["id"]);
    let (s, void) = sys
        .call(
            Method::POST,
            format!("{a}/redemption/v1/redemptions/{id}/void"),
            &town.tablet,
            Some("blagajna-1-0002"),
            Some(json!({"reason": "napačen znesek"})),
        )
        .await;
    assert_eq!((s, text(&void["status"])), (200, "voided".into()), "{void}");
    let v = summary(&sys, &town, &month).await;
    let t = &v["totals"];
    assert_eq!(
        (
            t["reversals"].as_i64(),
            text(&t["municipality"]),
            text(&v["promotions"][0]["budget_left"]),
        ),
        (Some(1), "0.00".into(), "100.00".into()),
        "{v}"
    );
    let (s, audit) = sys
        .get(&sys.settlement, "/settlement/v1/audit", &town.admin)
        .await;
    assert_eq!((s, audit["clean"].as_bool()), (200, Some(true)), "{audit}");

    // Nothing secret in any process's log: the QR token, passwords, PIN-bearing
    // bodies, staff and tablet tokens.
    let logs = sys.logs();
    assert!(logs.contains("staff login"), "the logs were captured");
    for secret in [
        token.as_str(),
        PASSWORD,
        town.tablet.as_str(),
        town.admin.as_str(),
        town.credential.as_str(),
        &format!("\"pin\":\"{PIN}\""),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret in the logs: {secret:.12}…"
        );
    }
}
