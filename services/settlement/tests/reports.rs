//! Statements against the journal, and every download: format, digest, reproducibility,
//! and the SEPA file against the pain.001.001.09 schema.

mod common;

use common::{d, dec, world};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

async fn march(w: &common::World) {
    w.redeem(0, 0, "R-001", "2026-03-02T09:15:00+01:00", "45.60", "4.56")
        .await;
    w.redeem(0, 1, "R-002", "2026-03-05T17:40:00+01:00", "12.00", "1.20")
        .await;
    let v = w
        .redeem(1, 0, "R-003", "2026-03-20T11:00:00+01:00", "99.99", "10.00")
        .await;
    w.redeem(1, 0, "R-004", "2026-03-31T23:59:59+02:00", "10.01", "1.01")
        .await;
    w.void(&v, "2026-03-21T08:00:00+01:00").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_totals_equal_journal_sums(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    march(&w).await;
    let t = w.admin_token();
    for closed in [false, true] {
        if closed {
            assert_eq!(w.close("2026-03").await.status(), 200);
        }
        let s = w.json(&t, "/settlement/v1/periods/2026-03/summary").await;
        assert_eq!(
            dec(&s["totals"]["municipality"]),
            w.journal_sum("merchant_receivable").await
        );
        assert_eq!(
            dec(&s["totals"]["merchant_share"]),
            w.journal_sum("merchant_own_discount").await
        );
        assert_eq!(
            dec(&s["totals"]["municipality"]),
            -w.journal_sum("promotion_budget").await
        );
        // 4.56 → 2.28 + 2.28; 1.20 own; 10.00 voided; 1.01 → 0.51 + 0.50
        assert_eq!(dec(&s["totals"]["municipality"]), d("2.79"));
        assert_eq!(dec(&s["totals"]["discount"]), d("6.77"));
        assert_eq!(s["totals"]["redemptions"], 4);
        assert_eq!(s["totals"]["reversals"], 1);
        let sum_m: rust_decimal::Decimal = s["merchants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| dec(&m["municipality"]))
            .sum();
        assert_eq!(sum_m, d("2.79"));
        let promo = &s["promotions"][0];
        assert_eq!(dec(&promo["budget_used"]), d("2.79"));
        assert_eq!(dec(&promo["budget_left"]), d("997.21"));
        assert_eq!(promo["burn"].as_array().map(Vec::len), Some(31));
        assert_eq!(promo["burn"][30], "2.79");
    }
    let audit = w.json(&t, "/settlement/v1/audit").await;
    assert_eq!(audit["clean"], true, "{audit}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_download_carries_its_digest_and_a_closed_period_gives_the_same_bytes(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    march(&w).await;
    let t = w.admin_token();
    assert_eq!(w.close("2026-03").await.status(), 200);
    let mut names: Vec<String> = [
        "redemptions.csv",
        "redemptions-rfc4180.csv",
        "statements.xlsx",
        "summary.pdf",
        "payout.xml",
    ]
    .map(String::from)
    .to_vec();
    names.push(format!("merchant-{}.pdf", w.fx.merchants[0].id));
    names.push(format!("merchant-{}.csv", w.fx.merchants[0].id));
    let mut digests = std::collections::HashMap::new();
    for name in &names {
        let (a, da) = w.download(&t, "2026-03", name).await;
        let (b, db) = w.download(&t, "2026-03", name).await;
        assert_eq!(da, hex::encode(Sha256::digest(&a)), "{name}: digest header");
        assert_eq!(a, b, "{name}: reproducible");
        assert_eq!(da, db);
        digests.insert(name.clone(), da);
    }
    // The bulk export (both listings in one pass, statements side by side) makes
    // the very same bytes.
    let mut c = platform::db::begin_town(&w.ctx.db, w.town)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let period =
        settlement::db::periods::find(&mut c, common::at("2026-03-01T12:00:00Z").date_naive())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no March"));
    drop(c);
    let all = settlement::domain::export::render_all(
        &w.ctx.db,
        w.town,
        &period,
        settlement::console::i18n::Lang::Sl,
        &[w.fx.merchants[0].id],
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(all.len(), 6);
    for r in &all {
        assert_eq!(
            Some(&r.file.sha256),
            digests.get(&r.download.name()),
            "{}",
            r.download.name()
        );
    }
    let (xlsx, _) = w.download(&t, "2026-03", "statements.xlsx").await;
    assert!(xlsx.starts_with(b"PK"));
    let (pdf, _) = w.download(&t, "2026-03", "summary.pdf").await;
    assert!(pdf.starts_with(b"%PDF-"));
    let (en, _) = w.download(&t, "2026-03", "summary.pdf?lang=en").await;
    assert_ne!(pdf, en, "labels follow the language");

    let (excel, _) = w.download(&t, "2026-03", "redemptions.csv").await;
    assert!(excel.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let text = String::from_utf8(excel[3..].to_vec()).unwrap_or_default();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("Vrsta;Čas;Račun;Trgovec"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(
            ";2026-03-02 09:15:00;R-001;Kavarna Loggia;Promotion 1;45,60;4,56;2,28;2,28;"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].contains(";2026-03-31 23:59:59;R-004;"),
        "local time: {}",
        lines[4]
    );
    assert!(
        lines[5].starts_with("void;") && lines[5].contains(";-99,99;-10,00;-5,00;-5,00;"),
        "{}",
        lines[5]
    );
    let (plain, _) = w.download(&t, "2026-03", "redemptions-rfc4180.csv").await;
    let plain = String::from_utf8(plain).unwrap_or_default();
    assert!(plain.starts_with("kind,occurred_at,receipt_number,"));
    assert!(plain.contains(",45.60,4.56,2.28,2.28,"), "{plain}");

    // A merchant owner gets its own files, not another's.
    let own = w.fx.merchants[0].id;
    let owner = w.token(
        kernel::Role::MerchantOwner,
        Some(kernel::MerchantId::from_uuid(own)),
    );
    let (mine, _) = w
        .download(&owner, "2026-03", &format!("merchant-{own}.csv"))
        .await;
    assert_eq!(String::from_utf8_lossy(&mine).lines().count(), 3);
    let other = w.fx.merchants[1].id;
    assert_eq!(
        w.get(
            &owner,
            &format!("/settlement/v1/periods/2026-03/downloads/merchant-{other}.pdf")
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        w.get(&t, "/settlement/v1/periods/2026-03/downloads/nothing.txt")
            .await
            .status(),
        404
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_sepa_payout_file_validates_against_the_pain_001_001_09_schema(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    march(&w).await;
    let t = w.admin_token();
    let r = w
        .get(&t, "/settlement/v1/periods/2026-03/downloads/payout.xml")
        .await;
    assert_eq!(r.status(), 409, "no payout file for an open period");
    assert_eq!(w.close("2026-03").await.status(), 200);
    let (xml, _) = w.download(&t, "2026-03", "payout.xml").await;
    let text = String::from_utf8(xml.clone()).unwrap_or_default();
    assert!(text.contains("<CtrlSum>2.79</CtrlSum>"), "{text}");
    assert!(text.contains("<NbOfTxs>2</NbOfTxs>"));
    assert!(text.contains("<InstdAmt Ccy=\"EUR\">2.28</InstdAmt>"));
    let file = std::env::temp_dir().join(format!("pain001-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, &xml).unwrap_or_else(|e| panic!("{e}"));
    let xsd = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schema/pain.001.001.09.xsd"
    );
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", xsd])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("xmllint is needed (apt-get install libxml2-utils): {e}"));
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A broken file does fail the same check (the check can fail).
    let broken = text.replace("<CtrlSum>2.79</CtrlSum>", "<CtrlSum>two</CtrlSum>");
    let file = std::env::temp_dir().join(format!("pain001-bad-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, broken).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", xsd])
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    assert!(out.is_ok_and(|o| !o.status.success()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_console_and_its_api_document_are_served(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    let page = w
        .http
        .get(format!("{}/settlement/console", w.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("/settlement/console/app.js")
    );
    let words: serde_json::Value = w
        .http
        .get(format!("{}/settlement/console/i18n.json", w.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(words["it"]["close"], "Chiudi periodo");
    let api: serde_json::Value = w
        .http
        .get(format!("{}/settlement/openapi.json", w.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    for p in [
        "/settlement/v1/periods/{month}/close",
        "/settlement/v1/periods/{month}/downloads/{name}",
        "/settlement/v1/periods/{month}/payout",
        "/settlement/v1/periods/{month}/merchants/{merchant}/claim",
        "/settlement/console",
        "/settlement/v1/audit",
    ] {
        assert!(
            api["paths"].get(p).is_some(),
            "{p} missing from the API document"
        );
    }
}
