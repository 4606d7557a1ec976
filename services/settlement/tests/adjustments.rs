//! Reconciliation `adjust` posts a correction into the next open period; a closed
//! period's downloads keep the names and IBANs they had at close.

mod common;

use common::{d, dec, world};
use kernel::{MerchantId, Role};
use rust_decimal::Decimal;
use sqlx::PgPool;

const CLAIM: &str = "receipt_number,basket,discount\nA-1,40.00,4.00\nA-2,20.00,2.50\n";

async fn put(w: &common::World, token: &str, receipt: &str, body: serde_json::Value) -> u16 {
    let m = w.fx.merchants[0].id;
    w.http
        .put(format!(
            "{}/settlement/v1/periods/2026-03/merchants/{m}/reconciliation/{receipt}",
            w.base
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn count(w: &common::World, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(w.town.as_uuid())
        .fetch_one(&w.admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn balance(w: &common::World, account: kernel::AccountId) -> Option<Decimal> {
    let mut c = w.admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    ledger::balance_of(&mut c, account).await.ok()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_adjust_decision_posts_the_correction_into_the_next_open_period(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    // Promotion 0 co-finances 50 %: 4.00 → 2.00 + 2.00, 2.00 → 1.00 + 1.00.
    w.redeem(0, 0, "A-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(0, 0, "A-2", "2026-03-03T09:00:00+01:00", "20.00", "2.00")
        .await;
    w.redeem(0, 0, "A-3", "2026-03-04T09:00:00+01:00", "10.00", "1.00")
        .await;
    assert_eq!(w.close("2026-03").await.status(), 200);
    let m = w.fx.merchants[0].id;
    let owner = w.token(Role::MerchantOwner, Some(MerchantId::from_uuid(m)));
    let r = w
        .claim(&owner, "2026-03", m, format!("{CLAIM}A-9,5.00,0.50\n"))
        .await;
    assert_eq!(r.status(), 200);
    let march = w
        .json(&w.admin_token(), "/settlement/v1/periods/2026-03/summary")
        .await;

    let t = w.admin_token();
    let auditor = w.token(Role::Auditor, None);
    let adjust = serde_json::json!({"decision": "adjust", "amount": "2.50", "note": "till roll"});
    assert_eq!(
        put(&w, &auditor, "A-2", adjust.clone()).await,
        403,
        "an auditor cannot adjust"
    );
    assert_eq!(put(&w, &owner, "A-2", adjust.clone()).await, 403);
    let adjustments =
        "SELECT count(*) FROM journal_transactions WHERE town_id = $1 AND kind = 'adjustment'";
    assert_eq!(count(&w, adjustments).await, 0);
    assert_eq!(
        put(
            &w,
            &t,
            "A-9",
            serde_json::json!({"decision": "adjust", "amount": "0.50"})
        )
        .await,
        422,
        "a receipt missing from the statement has no redemption to correct"
    );

    // 2.00 → 2.50: 1.25 + 1.25, so the receivable grows by 0.25 and the own share by 0.25.
    assert_eq!(put(&w, &t, "A-2", adjust.clone()).await, 204);
    assert_eq!(count(&w, adjustments).await, 1);
    assert_eq!(put(&w, &t, "A-2", adjust.clone()).await, 204, "a replay");
    assert_eq!(count(&w, adjustments).await, 1, "a replay posts nothing");
    assert_eq!(
        put(
            &w,
            &t,
            "A-2",
            serde_json::json!({"decision": "adjust", "amount": "3.00"})
        )
        .await,
        409,
        "a posted adjustment is final"
    );
    assert_eq!(
        put(&w, &t, "A-2", serde_json::json!({"decision": "reject"})).await,
        409
    );
    // Missing in the claim, agreed at 0.00: the whole booked discount comes back.
    assert_eq!(
        put(
            &w,
            &t,
            "A-3",
            serde_json::json!({"decision": "adjust", "amount": "0.00"})
        )
        .await,
        204
    );
    assert_eq!(count(&w, adjustments).await, 2);

    // The journal: each adjustment balances, names its redemption, and moved −0.25 net.
    let (entries, sum, named): (i64, Decimal, i64) = sqlx::query_as(
        "SELECT count(*), sum(e.amount), count(DISTINCT t.reverses) FROM journal_transactions t
         JOIN journal_entries e ON e.transaction_id = t.id WHERE t.town_id = $1 AND t.kind = 'adjustment'",
    )
    .bind(w.town.as_uuid())
    .fetch_one(&w.admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((entries, sum, named), (8, d("0"), 2));
    let memo: String = sqlx::query_scalar(
        "SELECT memo FROM journal_transactions WHERE town_id = $1 AND kind = 'adjustment' ORDER BY posted_at LIMIT 1",
    )
    .bind(w.town.as_uuid())
    .fetch_one(&w.admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        memo.contains("A-2") && memo.contains("2026-03") && memo.contains("till roll"),
        "{memo}"
    );
    // 2.00 + 1.00 + 0.50 (March) + 0.25 − 0.50 (the adjustments)
    assert_eq!(
        balance(&w, w.fx.merchants[0].receivable).await,
        Some(d("3.25"))
    );
    assert_eq!(w.json(&t, "/settlement/v1/audit").await["clean"], true);

    // March is closed: its statement is unchanged; April shows the adjustments.
    assert_eq!(
        w.json(&t, "/settlement/v1/periods/2026-03/summary").await["totals"],
        march["totals"]
    );
    let april = w.json(&t, "/settlement/v1/periods/2026-04/summary").await;
    assert_eq!(dec(&april["totals"]["adjustments"]), d("-0.25"));
    assert_eq!(dec(&april["totals"]["municipality"]), d("-0.25"));
    assert_eq!(dec(&april["totals"]["merchant_share"]), d("-0.25"));
    assert_eq!(april["totals"]["redemptions"], 0);
    let st = w
        .json(
            &owner,
            &format!("/settlement/v1/periods/2026-04/merchants/{m}/statement"),
        )
        .await;
    assert_eq!(dec(&st["adjustments"]), d("-0.25"), "{st}");
    let promo = &april["promotions"][0];
    assert_eq!(dec(&promo["budget_used"]), d("-0.25"));

    // April closes (rows agree with the journal) and lists them in its downloads.
    assert_eq!(w.close("2026-04").await.status(), 200);
    let (csv, _) = w.download(&t, "2026-04", "redemptions-rfc4180.csv").await;
    let csv = String::from_utf8(csv).unwrap_or_default();
    let lines: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("adjustment,"))
        .collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",A-2,") && l.contains(",0.50,0.25,0.25,0,1")),
        "{csv}"
    );
    let closed = w.json(&t, "/settlement/v1/periods/2026-04/summary").await;
    assert_eq!(closed["totals"], april["totals"]);

    // Paying March (3.50) leaves the receivable at the April correction, −0.25.
    let pay = |reference: &str| serde_json::json!({ "bank_reference": reference });
    let r = w
        .post(&t, "/settlement/v1/periods/2026-03/payout", pay("SI00 1"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        balance(&w, w.fx.merchants[0].receivable).await,
        Some(d("-0.25"))
    );
    assert_eq!(w.json(&t, "/settlement/v1/audit").await["clean"], true);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_budget_that_cannot_cover_an_adjustment_refuses_it(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    w.redeem(0, 0, "B-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    assert_eq!(w.close("2026-03").await.status(), 200);
    let m = w.fx.merchants[0].id;
    let owner = w.token(Role::MerchantOwner, Some(MerchantId::from_uuid(m)));
    let r = w
        .claim(
            &owner,
            "2026-03",
            m,
            "receipt_number,basket,discount\nB-1,40.00,5000.00\n",
        )
        .await;
    assert_eq!(r.status(), 200);
    // The budget is 1,000.00; half of 5,000.00 does not fit.
    let t = w.admin_token();
    let body = serde_json::json!({"decision": "adjust", "amount": "5000.00"});
    assert_eq!(put(&w, &t, "B-1", body).await, 409);
    let n = count(
        &w,
        "SELECT count(*) FROM journal_transactions WHERE town_id = $1 AND kind = 'adjustment'",
    )
    .await;
    assert_eq!(n, 0);
    let rec = w
        .json(
            &t,
            &format!("/settlement/v1/periods/2026-03/merchants/{m}/reconciliation"),
        )
        .await;
    assert_eq!(
        rec["items"][0]["decision"],
        serde_json::Value::Null,
        "nothing recorded"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn renaming_a_merchant_after_the_close_changes_no_download(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    w.redeem(0, 0, "N-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(1, 0, "N-2", "2026-03-03T09:00:00+01:00", "20.00", "2.00")
        .await;
    assert_eq!(w.close("2026-03").await.status(), 200);
    let t = w.admin_token();
    let m = w.fx.merchants[0].id;
    let names = [
        "redemptions.csv".to_owned(),
        "redemptions-rfc4180.csv".to_owned(),
        "statements.xlsx".to_owned(),
        "summary.pdf".to_owned(),
        "payout.xml".to_owned(),
        format!("merchant-{m}.pdf"),
        format!("merchant-{m}.csv"),
    ];
    let mut before = Vec::new();
    for n in &names {
        before.push(w.download(&t, "2026-03", n).await);
    }
    let summary = w.json(&t, "/settlement/v1/periods/2026-03/summary").await;
    let xml = String::from_utf8_lossy(&before[4].0).into_owned();
    assert!(
        xml.contains("Kavarna Loggia") && xml.contains("SI56191000000123438"),
        "{xml}"
    );

    for sql in [
        "UPDATE merchants SET name = 'Preimenovana d.o.o.', iban = 'SI56192001234567892' WHERE town_id = $1",
        "UPDATE promotions SET name = 'Nova promocija' WHERE town_id = $1",
        "UPDATE towns SET name = 'Drugo mesto', iban = 'SI56290000155000000', bic = 'BAKOSI2X' WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(w.town.as_uuid())
            .execute(&w.admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (n, (bytes, digest)) in names.iter().zip(&before) {
        let (now, now_digest) = w.download(&t, "2026-03", n).await;
        assert_eq!(&now_digest, digest, "{n}");
        assert!(&now == bytes, "{n} changed after a rename");
    }
    assert_eq!(
        w.json(&t, "/settlement/v1/periods/2026-03/summary").await,
        summary
    );
    // An open period prints today's names.
    w.redeem(0, 0, "N-3", "2026-04-02T09:00:00+02:00", "10.00", "1.00")
        .await;
    let april = w.json(&t, "/settlement/v1/periods/2026-04/summary").await;
    assert_eq!(april["merchants"][0]["name"], "Preimenovana d.o.o.");
    assert_eq!(april["town"], "Drugo mesto");
}
