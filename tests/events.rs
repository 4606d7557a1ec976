//! The redemption instances answer scans from their caches of cards and offers;
//! the events the services publish on Redis drop those entries in every instance,
//! so a change made at one service holds at every counter at once, not after the
//! cache's lifetime (30 s).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use towncard_system_tests::{System, Town, text};

/// Scans at `at` until `done` holds, for at most `secs`; the last answer.
async fn scan_until(
    sys: &System,
    town: &Town,
    at: &str,
    token: &str,
    secs: u64,
    done: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, v) = town.scan(sys, at, token, "10.00").await;
        if done(s, &v) || Instant::now() >= deadline {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets a card's status behind the services' backs (no event), as the database's owner.
async fn set_status(admin_db: &PgPool, number: &str, status: &str) {
    sqlx::query("UPDATE cards SET status = $1 WHERE number = $2")
        .bind(status)
        .bind(number)
        .execute(admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

fn code(v: &Value) -> String {
    text(&v["code"])
}

#[sqlx::test(migrations = "../migrations")]
async fn a_card_suspended_at_the_desk_is_refused_at_every_counter_at_once(admin_db: PgPool) {
    let sys = System::start(&admin_db).await;
    let town = Town::set_up(&sys, &admin_db, "koper", 101).await;
    let (number, token) = town.sell_card(&sys).await;
    let (s, v) = town.scan(&sys, &sys.redemption[0], &token, "10.00").await;
    assert_eq!(s, 200, "first scan activates: {v}");

    // Both instances hold the card: a change without an event is not seen (each
    // instance caches once its event subscription is up, so this may take a few scans).
    for at in &sys.redemption {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            town.scan(&sys, at, &token, "10.00").await;
            set_status(&admin_db, &number, "suspended").await;
            let (s, v) = town.scan(&sys, at, &token, "10.00").await;
            set_status(&admin_db, &number, "active").await;
            if s == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{at} never answered from its cache: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Suspended at the desk: refused at both counters within 3 s (a cache entry
    // lives 30 s).
    let (s, v) = sys
        .post(
            &sys.issuing,
            &format!("/issuing/v1/cards/{number}/actions/suspend"),
            &town.desk,
            json!({"reason": "reported lost"}),
        )
        .await;
    assert_eq!((s, text(&v["status"])), (200, "suspended".into()), "{v}");
    for at in &sys.redemption {
        let (s, v) = scan_until(&sys, &town, at, &token, 3, |s, _| s != 200).await;
        assert_eq!((s, code(&v)), (422, "card_suspended".into()), "{at}: {v}");
    }
    // Resumed: usable again at both within 3 s.
    let (s, v) = sys
        .post(
            &sys.issuing,
            &format!("/issuing/v1/cards/{number}/actions/resume"),
            &town.desk,
            json!({}),
        )
        .await;
    assert_eq!((s, text(&v["status"])), (200, "active".into()), "{v}");
    for at in &sys.redemption {
        let (s, v) = scan_until(&sys, &town, at, &token, 3, |s, _| s == 200).await;
        assert_eq!(s, 200, "{at}: {v}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_promotion_closed_at_one_instance_is_gone_from_the_others_scans_at_once(
    admin_db: PgPool,
) {
    let sys = System::start(&admin_db).await;
    let town = Town::set_up(&sys, &admin_db, "koper", 101).await;
    let (_, token) = town.sell_card(&sys).await;
    let [a, b] = &sys.redemption;
    let name = |v: &Value| text(&v["offers"][0]["name"]);

    // Instance A holds the shop's offers: a rename behind its back is not seen.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = town.scan(&sys, a, &token, "10.00").await;
        assert_eq!(s, 200, "{v}");
        sqlx::query("UPDATE promotions SET name = 'Preimenovana' WHERE id = $1")
            .bind(town.promotion)
            .execute(&admin_db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, v) = town.scan(&sys, a, &token, "10.00").await;
        sqlx::query("UPDATE promotions SET name = 'Razvajaj se v mestu' WHERE id = $1")
            .bind(town.promotion)
            .execute(&admin_db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if name(&v) == "Razvajaj se v mestu" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A never answered from its cache: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Closed by the town at instance B: A stops offering it within 3 s.
    let (s, v) = sys
        .post(
            b,
            &format!("/redemption/v1/promotions/{}/close", town.promotion),
            &town.admin,
            json!({}),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let offered = |v: &Value| {
        v["offers"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["available"].as_bool() == Some(true)))
    };
    let (s, v) = scan_until(&sys, &town, a, &token, 3, |_, v| !offered(v)).await;
    assert_eq!(s, 200, "{v}");
    assert!(!offered(&v), "A still offers the closed promotion: {v}");
}
