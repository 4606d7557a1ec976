//! The visitor's card page: content in three languages, and a real phone-sized
//! screenshot from headless Chromium.

mod common;

use common::{app, town};
use kernel::Role;
use serde_json::json;
use sqlx::PgPool;

async fn promotion(pool: &PgPool, town: kernel::TownId) {
    let merchant = platform::testing::make_merchant(pool, town, "Kavarna Loggia").await;
    let promo = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO promotions (id, town_id, name, description, co_financing_percent, rules, starts_on, ends_on)
         VALUES ($1, $2, 'Razvajaj se v mestu', '10 % popusta v mestnem središču', 50,
                 '{\"eligible_products\": [\"KC48\"]}', current_date - 1, current_date + 30)",
    )
    .bind(promo)
    .bind(town.as_uuid())
    .execute(pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status) VALUES ($1, $2, $3, 'approved')")
        .bind(town.as_uuid())
        .bind(promo)
        .bind(merchant.as_uuid())
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

fn path_of(page_url: &str) -> String {
    page_url
        .find("/c/")
        .map(|i| page_url[i..].to_owned())
        .unwrap_or_default()
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_card_page_speaks_three_languages_and_hides_nothing_it_should_show(pool: PgPool) {
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    promotion(&pool, t).await;
    let card = a.issue(t, "KC48").await;
    let number = card["number"].as_str().unwrap_or_default().to_owned();
    let path = path_of(card["page_url"].as_str().unwrap_or_default());
    let tic = a.bearer(Role::TicOperator, t);
    a.post(
        &tic,
        &format!("/issuing/v1/cards/{number}/actions/activate"),
        json!({}),
    )
    .await;

    let get = |p: String| {
        let http = a.http.clone();
        let url = format!("{}{p}", a.url);
        async move { http.get(url).send().await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let r = get(path.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let sl = r.text().await.unwrap_or_default();
    for want in [
        &number[..],
        "lang=\"sl\"",
        "veljavna",
        "Preostalo",
        "Pokrajinski muzej: vstop",
        "na voljo",
        "Razvajaj se v mestu",
        "Kavarna Loggia",
        "<svg",
    ] {
        assert!(sl.contains(want), "missing {want:?}");
    }
    let en = get(format!("{path}?lang=en"))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        en.contains("Regional museum: entry") && en.contains("Time left") && en.contains("valid")
    );
    let it = get(format!("{path}?lang=it"))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(it.contains("Museo regionale: ingresso") && it.contains("Tempo rimasto"));
    assert!(
        !sl.contains("ana@example.si"),
        "no personal data on the page"
    );

    assert_eq!(get("/c/doesnotexist123".into()).await.status(), 404);
    assert_eq!(get("/c/x".into()).await.status(), 404);
    a.post(
        &tic,
        &format!("/issuing/v1/cards/{number}/actions/replace"),
        json!({}),
    )
    .await;
    assert_eq!(
        get(path).await.status(),
        404,
        "a replaced card's old link is dead"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_card_page_looks_right_on_a_phone(pool: PgPool) {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "install Debian's chromium: apt-get install -y chromium"
    );
    let a = app(&pool).await;
    let t = town(&pool, "koper", 101).await;
    promotion(&pool, t).await;
    let card = a.issue(t, "KC48").await;
    let path = path_of(card["page_url"].as_str().unwrap_or_default());
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("card-page");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for lang in ["sl", "en", "it"] {
        let shot = dir.join(format!("card-page-{lang}.png"));
        let _ = std::fs::remove_file(&shot);
        let profile = dir.join(format!("profile-{}", uuid::Uuid::new_v4()));
        let url = format!("{}{path}?lang={lang}", a.url);
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=390,844".into(),
            format!("--screenshot={}", shot.display()),
            url,
        ];
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("/usr/bin/chromium")
                .args(args)
                .output()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("chromium did not run: {e}"));
        let _ = std::fs::remove_dir_all(&profile);
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "no screenshot ({e}); chromium said: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(&png[1..4], b"PNG");
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((w, h), (390, 844), "phone-sized");
        // A blank page compresses to a few kB; the card with its QR code does not.
        assert!(
            png.len() > 20_000,
            "screenshot looks empty: {} bytes",
            png.len()
        );
        println!("screenshot: {}", shot.display());
    }
}
