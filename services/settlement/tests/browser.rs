//! The console in headless Chromium (playwright-core). Needs node, `npm ci` in
//! tests/browser and /usr/bin/chromium; run with
//! `cargo test -p settlement --test browser -- --ignored`.

mod common;

use common::world;
use kernel::{MerchantId, Role};
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
#[ignore = "needs node, npm ci in tests/browser and /usr/bin/chromium"]
async fn the_console_works_in_headless_chromium(admin: PgPool) {
    let w = world(admin.clone(), "koper", 101).await;
    let pw = "correct horse battery";
    platform::testing::make_staff(&admin, w.town, Role::TownAdmin, None, "admin@town.test", pw)
        .await;
    platform::testing::make_staff(&admin, w.town, Role::Auditor, None, "auditor@town.test", pw)
        .await;
    w.redeem(0, 0, "F-1", "2026-02-10T10:00:00+01:00", "30.00", "3.00")
        .await;
    w.redeem(0, 0, "C-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(0, 0, "C-2", "2026-03-09T09:00:00+01:00", "20.00", "2.00")
        .await;
    w.redeem(1, 0, "C-3", "2026-03-16T09:00:00+01:00", "80.00", "8.00")
        .await;
    w.redeem(1, 1, "C-4", "2026-03-25T09:00:00+01:00", "15.00", "1.50")
        .await;
    assert_eq!(w.close("2026-03").await.status(), 200);
    let m = w.fx.merchants[0].id;
    let owner = w.token(Role::MerchantOwner, Some(MerchantId::from_uuid(m)));
    let r = w
        .claim(
            &owner,
            "2026-03",
            m,
            "receipt_number,basket,discount\nC-1,40.00,4.00\nC-2,20.00,2.50\n",
        )
        .await;
    assert_eq!(r.status(), 200);

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    platform::testing::browser_steps(dir, "console.mjs", &[&w.base, &"koper"]).await;
    assert_eq!(
        w.status("2026-02").await,
        "closed",
        "the close clicked in the browser took effect"
    );
}
