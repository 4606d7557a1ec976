//! Payout and reconciliation.

mod common;

use common::{d, world};
use kernel::{MerchantId, Role};
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn paying_a_closed_period_clears_the_receivables(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    w.redeem(0, 0, "P-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(1, 0, "P-2", "2026-03-03T09:00:00+01:00", "20.00", "2.00")
        .await;
    let t = w.admin_token();
    let pay = |reference: &str| serde_json::json!({ "bank_reference": reference });
    let r = w
        .post(&t, "/settlement/v1/periods/2026-03/payout", pay("SI00 123"))
        .await;
    assert_eq!(r.status(), 409, "an open period cannot be paid");
    assert_eq!(w.close("2026-03").await.status(), 200);
    assert_eq!(
        w.post(&t, "/settlement/v1/periods/2026-03/payout", pay(" "))
            .await
            .status(),
        422
    );
    let r = w
        .post(
            &t,
            "/settlement/v1/periods/2026-03/payout",
            pay("SI00 2026-0001"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(body["payouts"].as_array().map(Vec::len), Some(2));
    assert_eq!(w.status("2026-03").await, "paid");
    for m in &w.fx.merchants {
        let mut c = w.admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ledger::balance_of(&mut c, m.receivable).await.ok(),
            Some(d("0.00"))
        );
    }
    let payouts: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT sum(e.amount) FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id
         JOIN ledger_accounts a ON a.id = e.account_id WHERE t.kind = 'payout' AND a.kind = 'payouts'",
    )
    .fetch_one(&w.admin)
    .await
    .unwrap_or_default();
    assert_eq!(payouts, d("3.00"));
    let r = w
        .post(&t, "/settlement/v1/periods/2026-03/payout", pay("again"))
        .await;
    assert_eq!(r.status(), 409);
    let periods = w.json(&t, "/settlement/v1/periods").await;
    let march = periods
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["month"] == "2026-03-01")
        .cloned()
        .unwrap_or_default();
    assert_eq!(march["bank_reference"], "SI00 2026-0001");
    assert_eq!(w.json(&t, "/settlement/v1/audit").await["clean"], true);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reconciliation_lists_each_difference_and_records_the_decision(admin: PgPool) {
    let w = world(admin, "koper", 101).await;
    w.redeem(0, 0, "C-1", "2026-03-02T09:00:00+01:00", "40.00", "4.00")
        .await;
    w.redeem(0, 0, "C-2", "2026-03-03T09:00:00+01:00", "20.00", "2.00")
        .await;
    w.redeem(0, 1, "C-3", "2026-03-04T09:00:00+01:00", "10.00", "1.00")
        .await;
    let m = w.fx.merchants[0].id;
    let owner = w.token(Role::MerchantOwner, Some(MerchantId::from_uuid(m)));
    let base = format!("/settlement/v1/periods/2026-03/merchants/{m}");
    // Excel-style claim: C-1 matches, C-2 differs, C-3 is missing, C-9 is extra.
    let claim =
        "\u{feff}Račun;Košarica;Popust\r\nC-1;40,00;4,00\r\nC-2;20,00;2,50\r\nC-9;5,00;0,50\r\n";
    let r = w.claim(&owner, "2026-03", m, claim).await;
    assert_eq!(r.status(), 200);
    let bad = w.claim(&owner, "2026-03", m, "nonsense").await;
    assert_eq!(bad.status(), 422);
    let rec = w.json(&owner, &format!("{base}/reconciliation")).await;
    let status: Vec<(String, String)> = rec["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["receipt_number"].as_str().unwrap_or("").to_owned(),
                i["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        status,
        vec![
            s("C-1", "matched"),
            s("C-2", "differs"),
            s("C-3", "missing_in_claim"),
            s("C-9", "missing_in_statement")
        ]
    );

    let t = w.admin_token();
    let decide = |receipt: &str, body: serde_json::Value| {
        w.http
            .put(format!("{}{base}/reconciliation/{receipt}", w.base))
            .bearer_auth(&t)
            .json(&body)
            .send()
    };
    assert_eq!(
        decide(
            "C-2",
            serde_json::json!({"decision": "adjust", "amount": "2.50", "note": "till roll"})
        )
        .await
        .map(|r| r.status().as_u16())
        .ok(),
        Some(204)
    );
    assert_eq!(
        decide("C-9", serde_json::json!({"decision": "reject"}))
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(204)
    );
    assert_eq!(
        decide("C-1", serde_json::json!({"decision": "accept"}))
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(404),
        "a matched receipt has nothing to decide"
    );
    assert_eq!(
        decide("C-3", serde_json::json!({"decision": "adjust"}))
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(422)
    );
    let by_owner = w
        .http
        .put(format!("{}{base}/reconciliation/C-3", w.base))
        .bearer_auth(&owner)
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_owner.status(), 403, "only the town admin decides");
    let rec = w.json(&t, &format!("{base}/reconciliation")).await;
    assert_eq!(rec["items"][1]["decision"], "adjust");
    assert_eq!(rec["items"][1]["decision_amount"], "2.50");
    assert_eq!(rec["items"][3]["decision"], "reject");

    assert_eq!(rec["confirmed"], false);
    let r = w
        .post(&owner, &format!("{base}/confirm"), serde_json::json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        w.json(&owner, &format!("{base}/reconciliation")).await["confirmed"],
        true
    );
    let other = w.fx.merchants[1].id;
    let r = w
        .post(
            &owner,
            &format!("/settlement/v1/periods/2026-03/merchants/{other}/confirm"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
}
