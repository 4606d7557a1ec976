//! The counter tablet in headless Chromium (playwright-core) with a fake camera that
//! shows a real card's QR code. Needs node, `npm ci` in tests/browser and
//! /usr/bin/chromium; run with
//! `cargo test -p merchant-redemption --test tablet_browser -- --ignored --nocapture`.
//! Screenshots of each screen land in tests/browser/screenshots/.

mod common;

use common::*;
use kernel::Role;
use platform::testing::context;
use qrcode::{Color, QrCode};
use serde_json::json;
use sqlx::PgPool;

/// A YUV4MPEG2 video (640×480, 4:2:0) of `frames` identical frames showing `text`
/// as a QR code, black on white with a quiet zone: Chromium's fake camera plays it.
fn qr_video(text: &str, frames: usize) -> Vec<u8> {
    const W: usize = 640;
    const H: usize = 480;
    let code = QrCode::new(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let n = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let module = (H - 40) / (n + 2 * quiet);
    let side = module * (n + 2 * quiet);
    let (x0, y0) = ((W - side) / 2, (H - side) / 2);
    let mut luma = vec![200u8; W * H]; // a grey counter around a white card
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / module, y / module);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + n
                && my < quiet + n
                && colors[(my - quiet) * n + (mx - quiet)] == Color::Dark;
            luma[(y0 + y) * W + x0 + x] = if dark { 16 } else { 235 };
        }
    }
    let chroma = vec![128u8; (W / 2) * (H / 2)];
    let mut out = format!("YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420\n").into_bytes();
    for _ in 0..frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&luma);
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    out
}

/// A different digit in the middle: the Damm check digit catches every single typo.
fn typo(number: &str) -> String {
    let mut d: Vec<u8> = number.bytes().collect();
    d[6] = if d[6] == b'9' { b'0' } else { d[6] + 1 };
    String::from_utf8(d).unwrap_or_default()
}

async fn count(admin: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[sqlx::test(migrations = "../../migrations")]
#[ignore = "needs node, npm ci in tests/browser and /usr/bin/chromium"]
async fn the_counter_tablet_works_in_headless_chromium(admin: PgPool) {
    let t = town(&admin, "koper", 101).await;
    let ctx = context(&admin).await;
    let api = serve(&ctx, unthrottled()).await;
    let (m, owner) =
        merchant_with_token(&admin, &ctx, &t, "Kavarna Loggia", Role::MerchantOwner).await;
    let (_, code) = staff_and_code(&api, &owner, m, "ana@loggia.si", "4821").await;
    promotion(
        &admin,
        &t,
        json!({"benefit": {"kind": "percent", "value": "10"}}),
        "50",
        "500.00",
        &[m],
    )
    .await;
    let cs = cards(&admin, &t, 1, 3).await;
    sqlx::query("UPDATE cards SET status = 'replaced' WHERE id = $1")
        .bind(cs[2].id)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let dir = std::env::temp_dir().join(format!("tablet-browser-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let y4m = dir.join("camera.y4m");
    std::fs::write(&y4m, qr_video(&cs[0].token, 10)).unwrap_or_else(|e| panic!("{e}"));
    let setup = dir.join("setup.json");
    std::fs::write(
        &setup,
        json!({
            "town": "koper",
            "code": code["code"],
            "email": "ana@loggia.si",
            "pin": "4821",
            "qr_card_number": cs[0].number,
            "typed_number": cs[1].number,
            "typo_number": typo(&cs[1].number),
            "replaced_number": cs[2].number,
        })
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let browser_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    platform::testing::browser_steps(browser_dir, "tablet.mjs", &[&api.base, &setup, &y4m]).await;
    let _ = std::fs::remove_dir_all(&dir);

    // The camera redemption went through the API and the ledger.
    let online = count(
        &admin,
        "SELECT count(*) FROM redemptions r JOIN journal_transactions j ON j.id = r.journal_tx
         WHERE r.idempotency_key NOT LIKE 'offline:%' AND r.basket = 24.90 AND r.discount = 2.49",
    )
    .await;
    assert_eq!(online, 1, "one online redemption with its ledger posting");
    let entries = count(
        &admin,
        "SELECT count(*) FROM journal_entries e JOIN redemptions r ON r.journal_tx = e.transaction_id
         WHERE r.idempotency_key NOT LIKE 'offline:%'",
    )
    .await;
    assert!(entries >= 2, "the posting has its entries");
    // Two offline redemptions, though the batch reached the server twice.
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM redemptions WHERE idempotency_key LIKE 'offline:%'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM offline_sync_items WHERE status = 'accepted'"
        )
        .await,
        2
    );
    assert_eq!(
        count(&admin, "SELECT count(*) FROM redemptions").await,
        3,
        "nothing else was redeemed"
    );
    // The refund and the void tapped in today's list.
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM redemptions WHERE status = 'partially_refunded' AND basket = 24.90"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM redemptions WHERE status = 'voided' AND basket = 8.50"
        )
        .await,
        1
    );
    audit_clean(&admin).await;
}
