//! Print batches and QR images, verified offline with the town's public keys.

mod common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{app, town};
use ed25519_dalek::VerifyingKey;
use kernel::{CardNumber, Role};
use serde_json::{Value, json};
use sqlx::PgPool;

async fn public_keys(a: &common::App, slug: &str) -> (u16, HashMap<String, VerifyingKey>) {
    let r = a
        .http
        .get(format!("{}/issuing/v1/towns/{slug}/keys", a.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap_or_default();
    let keys = v["keys"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|k| {
            let raw = URL_SAFE_NO_PAD
                .decode(k["public_key"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let bytes: [u8; 32] = raw.try_into().unwrap_or_else(|_| panic!("32 bytes"));
            (
                k["kid"].as_str().unwrap_or_default().to_owned(),
                VerifyingKey::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    (v["town_code"].as_u64().unwrap_or_default() as u16, keys)
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_print_batch_gives_csv_and_sheets_that_verify_offline(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    a.issue(t, "RES").await; // serial 1 is taken: the batch continues the town's serials
    let tic = a.bearer(Role::TicOperator, t);
    let r = a
        .post(
            &tic,
            "/issuing/v1/batches",
            json!({"product_code": "KC48", "count": 25}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let batch: Value = r.json().await.unwrap_or_default();
    assert_eq!(batch["pages"], 3);
    assert_eq!(
        batch["first_number"]
            .as_str()
            .and_then(|n| CardNumber::parse(n).ok())
            .map(|n| n.serial()),
        Some(2)
    );
    let id = batch["id"].as_str().unwrap_or_default();

    let r = a
        .get(&tic, &format!("/issuing/v1/batches/{id}/cards.csv"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap_or_default();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "number,qr_payload,page_url");
    assert_eq!(lines.len(), 26);

    let (code, keys) = public_keys(&a, "koper").await;
    assert_eq!((code, keys.len()), (101, 1));
    let mut seen = std::collections::HashSet::new();
    for line in &lines[1..] {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 3, "{line}");
        let number = CardNumber::parse(cols[0]).unwrap_or_else(|e| panic!("{e}"));
        let claim = cardtoken::verify(cols[1], 101, |kid| keys.get(kid).copied())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claim.token_serial, 1);
        assert!(
            cols[2].contains("/c/") && seen.insert(cols[2].to_owned()),
            "page codes are unique"
        );
        assert!(seen.insert(number.to_string()));
    }

    let r = a
        .get(&tic, &format!("/issuing/v1/batches/{id}/sheet.svg?page=3"))
        .await;
    assert_eq!(r.status(), 200);
    let svg = r.text().await.unwrap_or_default();
    assert_eq!(svg.matches("<g transform").count(), 5);
    let r = a
        .get(&tic, &format!("/issuing/v1/batches/{id}/sheet.svg?page=1"))
        .await;
    let first = r.text().await.unwrap_or_default();
    assert_eq!(first.matches("<g transform").count(), 10);
    // Kept for a look in a browser: $CARGO_TARGET_DIR/tmp/sheet-page-1.svg
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sheet-page-1.svg"),
        &first,
    );
    assert!(svg.contains("width=\"210mm\""));
    assert_eq!(
        a.get(&tic, &format!("/issuing/v1/batches/{id}/sheet.svg?page=4"))
            .await
            .status(),
        404
    );
    let other = town(&pool, "piran", 102).await;
    let piran = a.bearer(Role::TicOperator, other);
    assert_eq!(
        a.get(&piran, &format!("/issuing/v1/batches/{id}/cards.csv"))
            .await
            .status(),
        404
    );
    let r = a
        .post(
            &tic,
            "/issuing/v1/batches",
            json!({"product_code": "KC48", "count": 0}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = a
        .post(
            &tic,
            "/issuing/v1/batches",
            json!({"product_code": "KC48", "count": 20001}),
        )
        .await;
    assert_eq!(r.status(), 422);
}

#[sqlx::test(migrations = "../../migrations")]
async fn qr_images_come_in_the_requested_size(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().replace(' ', "");
    let tic = a.bearer(Role::TicOperator, t);
    let r = a
        .get(&tic, &format!("/issuing/v1/cards/{number}/qr.png?size=400"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let version: i32 = r.headers()["x-qr-version"]
        .to_str()
        .unwrap_or("")
        .parse()
        .unwrap_or(99);
    assert!(
        (1..=7).contains(&version),
        "QR version {version} at level M"
    );
    let png = r.bytes().await.unwrap_or_default();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
        400
    );
    let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert!(h > 400, "room for the number under the code: {h}");

    let r = a
        .get(&tic, &format!("/issuing/v1/cards/{number}/qr.svg?size=250"))
        .await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap_or_default();
    assert!(svg.contains("width=\"250\"") && svg.contains(card["number"].as_str().unwrap_or("?")));
    for bad in ["size=10", "size=99999", "size=abc"] {
        let r = a
            .get(&tic, &format!("/issuing/v1/cards/{number}/qr.png?{bad}"))
            .await;
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn rotated_keys_keep_old_cards_valid_until_revoked(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().to_owned();
    let old = a.token_of(t, &number).await;
    let old_kid = cardtoken::parse(&old).map(|u| u.kid).unwrap_or_default();

    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT sealed_private_key FROM town_keys WHERE kid = $1")
            .bind(&old_kid)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sealed.len(),
        60,
        "nonce + sealed key + tag, never the bare key"
    );

    let admin = a.bearer(Role::TownAdmin, t);
    let tic = a.bearer(Role::TicOperator, t);
    assert_eq!(
        a.post(&tic, "/issuing/v1/keys", json!({})).await.status(),
        403
    );
    let r = a.post(&admin, "/issuing/v1/keys", json!({})).await;
    assert_eq!(r.status(), 201);
    let new_kid = r.json::<Value>().await.unwrap_or_default()["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(new_kid, old_kid);

    let new = a.token_of(t, &number).await;
    assert_eq!(
        cardtoken::parse(&new).map(|u| u.kid).ok(),
        Some(new_kid.clone())
    );
    assert_eq!(
        a.verify(t, &old).await.0,
        200,
        "a retired key still verifies"
    );
    assert_eq!(a.verify(t, &new).await.0, 200);
    assert_eq!(public_keys(&a, "koper").await.1.len(), 2);

    let r = a
        .post(
            &admin,
            &format!("/issuing/v1/keys/{old_kid}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (s, body) = a.verify(t, &old).await;
    assert_eq!((s, common::code(&body)), (422, "token_unknown_key"));
    assert_eq!(public_keys(&a, "koper").await.1.len(), 1);
    let r = a
        .post(&admin, "/issuing/v1/keys/nosuchkey/revoke", json!({}))
        .await;
    assert_eq!(r.status(), 404);
    let r = a
        .http
        .get(format!("{}/issuing/v1/towns/atlantis/keys", a.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_admin_cli_creates_a_town_key_that_is_published(pool: PgPool) {
    let a = app(&pool).await;
    town(&pool, "koper", 101).await;
    let mut conn = pool.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let settings = platform::Settings::default();
    let kid = card_issuing::cli::create_town_qr_key(&mut conn, "koper", &settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, keys) = public_keys(&a, "koper").await;
    assert!(keys.contains_key(&kid), "{kid} published");
    assert!(
        card_issuing::cli::create_town_qr_key(&mut conn, "atlantis", &settings)
            .await
            .is_err()
    );
}
