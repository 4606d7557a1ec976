//! Hostile and broken input gets a 4xx with a stable code, never a 5xx.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{app, code, town};
use ed25519_dalek::SigningKey;
use kernel::{CardId, Role};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn broken_and_forged_tokens_get_stable_codes(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().to_owned();
    let good = a.token_of(t, &number).await;
    let kid = cardtoken::parse(&good).map(|u| u.kid).unwrap_or_default();
    let card_id: uuid::Uuid = card["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let claim = |town_code| cardtoken::Claim {
        town_code,
        card_id: CardId::from_uuid(card_id),
        token_serial: 1,
    };
    let stranger = SigningKey::from_bytes(&[9; 32]);

    let body = cardtoken::base45::decode(&good[4..]).unwrap_or_else(|e| panic!("{e:?}"));
    let mut tampered = body.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1; // the signature's last byte
    }
    let tampered = format!("TC1:{}", cardtoken::base45::encode(&tampered));
    let reencoded = format!("TC1:{}", URL_SAFE_NO_PAD.encode(&body));
    let cases: Vec<(String, u16, &str)> = vec![
        ("\u{0}\u{1}\u{2}garbage bytes".into(), 400, "token_not_ours"),
        (good[..good.len() - 7].to_owned(), 400, "token_malformed"),
        (format!("{good}{}", "A".repeat(600)), 400, "token_too_long"),
        (good.to_lowercase(), 400, "token_not_ours"),
        (good.replacen("TC1:", "TC1:!", 1), 400, "token_malformed"),
        (reencoded, 400, "token_malformed"),
        (tampered, 422, "token_bad_signature"),
        (
            cardtoken::encode(&claim(101), &kid, &stranger),
            422,
            "token_bad_signature",
        ),
        (
            cardtoken::encode(&claim(101), "qnokey", &stranger),
            422,
            "token_unknown_key",
        ),
        (
            cardtoken::encode(&claim(102), &kid, &stranger),
            422,
            "token_wrong_town",
        ),
        (String::new(), 400, "token_not_ours"),
    ];
    for (token, status, expected) in cases {
        let (s, body) = a.verify(t, &token).await;
        assert_eq!((s, code(&body)), (status, expected), "{token:.40}");
    }
    let (s, _) = a.verify(t, &good).await;
    assert_eq!(s, 200);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_requests_are_client_errors(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    let tic = a.bearer(Role::TicOperator, t);
    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().replace(' ', "");
    let mut typo = number.clone().into_bytes();
    typo.swap(5, 6);
    if typo[5] == typo[6] {
        typo[11] = if typo[11] == b'0' { b'1' } else { b'0' };
    }
    let typo = String::from_utf8(typo).unwrap_or_default();

    let checks = [
        (
            a.get(&tic, &format!("/issuing/v1/cards/{typo}")).await,
            400,
            "card_number_invalid",
        ),
        (
            a.get(&tic, "/issuing/v1/cards/12").await,
            400,
            "card_number_invalid",
        ),
        (
            a.post(
                &tic,
                &format!("/issuing/v1/cards/{number}/actions/explode"),
                json!({}),
            )
            .await,
            400,
            "unknown_action",
        ),
        (
            a.post(&tic, "/issuing/v1/cards", json!({"product_code": "NOPE"}))
                .await,
            404,
            "product_not_found",
        ),
        (
            a.post(
                &tic,
                "/issuing/v1/cards",
                json!({"product_code": "KC48", "holder_lang": "de"}),
            )
            .await,
            422,
            "holder_invalid",
        ),
        (
            a.post(
                &tic,
                "/issuing/v1/cards",
                json!({"product_code": "KC48", "surprise": 1}),
            )
            .await,
            422,
            "invalid_body",
        ),
        (
            a.post(
                &tic,
                "/issuing/v1/batches",
                json!({"product_code": "KC48", "count": -5}),
            )
            .await,
            422,
            "invalid_body",
        ),
        (
            a.post(
                &tic,
                &format!("/issuing/v1/cards/{number}/actions/suspend"),
                json!({"reason": "x".repeat(501)}),
            )
            .await,
            422,
            "reason_too_long",
        ),
        (
            a.get(&tic, "/issuing/v1/batches/not-a-uuid/cards.csv")
                .await,
            400,
            "invalid_path",
        ),
    ];
    for (r, status, expected) in checks {
        let s = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!((s, code(&body)), (status, expected));
    }
    let r = a
        .http
        .post(format!("{}/issuing/v1/tokens/verify", a.url))
        .header("authorization", a.bearer(Role::MerchantStaff, t))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400);
}
