//! `post_bulk` against a real Postgres: same hash chain as `post`, audit-clean,
//! balances moved by the net amounts, guarded accounts still guarded.

use kernel::{AccountId, TownId};
use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

async fn town(admin: &PgPool) -> TownId {
    let town = TownId::new();
    sqlx::query("INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, 'bulk', 321, 'Bulk', 'SI56191000000123438')")
        .bind(town.as_uuid())
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    town
}

async fn open(c: &mut sqlx::PgConnection, town: TownId, kind: AccountKind) -> AccountId {
    ledger::ensure_account(
        c,
        &NewAccount {
            town,
            kind,
            owner: Some(uuid::Uuid::new_v4()),
            name: "x".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn posting(town: TownId, key: String, from: AccountId, to: AccountId, amount: Decimal) -> Posting {
    Posting {
        town,
        idempotency_key: key,
        kind: PostingKind::Redemption,
        memo: String::new(),
        reverses: None,
        entries: vec![
            Entry {
                account: from,
                amount: -amount,
            },
            Entry {
                account: to,
                amount,
            },
        ],
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn bulk_postings_chain_like_post_and_keep_the_audit_clean(admin: PgPool) {
    let town = town(&admin).await;
    let mut c = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let funding = open(&mut c, town, AccountKind::MunicipalityFunding).await;
    let budget = open(&mut c, town, AccountKind::PromotionBudget).await;
    let receivable = open(&mut c, town, AccountKind::MerchantReceivable).await;
    ledger::post(
        &mut c,
        &posting(town, "fund".into(), funding, budget, dec!(100.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let batch: Vec<Posting> = (0..200)
        .map(|i| posting(town, format!("r{i}"), budget, receivable, dec!(0.25)))
        .collect();
    let ids = ledger::post_bulk(&mut c, town, &batch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids.len(), 200);
    // Interleave ordinary postings after the bulk: the lanes stay consistent.
    ledger::post(
        &mut c,
        &posting(town, "after".into(), budget, receivable, dec!(1.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ledger::balance_of(&mut c, budget).await.ok(),
        Some(dec!(49.00))
    );
    assert_eq!(
        ledger::balance_of(&mut c, receivable).await.ok(),
        Some(dec!(51.00))
    );
    let report = ledger::audit_town(&mut c, town)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.transactions, 202);
    assert_eq!(
        ledger::lane_heads_digest(&mut c, town)
            .await
            .map(|d| d.len())
            .ok(),
        Some(64)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_bulk_batch_cannot_overdraw_a_guarded_budget(admin: PgPool) {
    let town = town(&admin).await;
    let mut c = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let funding = open(&mut c, town, AccountKind::MunicipalityFunding).await;
    let budget = open(&mut c, town, AccountKind::PromotionBudget).await;
    let receivable = open(&mut c, town, AccountKind::MerchantReceivable).await;
    ledger::post(
        &mut c,
        &posting(town, "fund".into(), funding, budget, dec!(10.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let batch: Vec<Posting> = (0..11)
        .map(|i| posting(town, format!("r{i}"), budget, receivable, dec!(1.00)))
        .collect();
    // Refused inside the caller's transaction: nothing of it stays, and the
    // transaction goes on (the next bulk posting and the commit work).
    let mut tx = sqlx::Connection::begin(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = ledger::post_bulk(&mut tx, town, &batch).await.err();
    assert!(
        matches!(err, Some(ledger::LedgerError::InsufficientBalance(a)) if a == budget),
        "{err:?}"
    );
    assert_eq!(
        ledger::balance_of(&mut tx, budget).await.ok(),
        Some(dec!(10.00))
    );
    let ids = ledger::post_bulk(&mut tx, town, &batch[..10])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids.len(), 10);
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ledger::balance_of(&mut c, budget).await.ok(),
        Some(dec!(0.00))
    );
    assert_eq!(
        ledger::balance_of(&mut c, receivable).await.ok(),
        Some(dec!(10.00))
    );
    let report = ledger::audit_town(&mut c, town)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.transactions, 11);
}

/// A bulk posting reaches the shards it picked by their addresses, not by reading
/// every town's balances: it must not cost more as the table grows.
#[sqlx::test(migrations = "../../migrations")]
async fn a_bulk_posting_does_not_read_the_whole_balances_table(admin: PgPool) {
    let town = town(&admin).await;
    let mut c = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    // Other accounts' shards, as many as a town with a few dozen merchants has.
    for _ in 0..100 {
        ledger::ensure_account_with_shards(
            &mut c,
            &NewAccount {
                town,
                kind: AccountKind::MerchantReceivable,
                owner: Some(uuid::Uuid::new_v4()),
                name: "x".into(),
            },
            8,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    sqlx::query("ANALYZE ledger_balances")
        .execute(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let funding = open(&mut c, town, AccountKind::MunicipalityFunding).await;
    let budget = open(&mut c, town, AccountKind::PromotionBudget).await;
    // A batch of redemptions changes about thirty accounts.
    let mut receivables = Vec::new();
    for _ in 0..30 {
        receivables.push(open(&mut c, town, AccountKind::MerchantReceivable).await);
    }
    ledger::post(
        &mut c,
        &posting(town, "fund".into(), funding, budget, dec!(100.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut tx = sqlx::Connection::begin(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Twice: plpgsql plans its statements on the first call and may plan them again.
    for round in 0..2 {
        let batch: Vec<Posting> = receivables
            .iter()
            .enumerate()
            .map(|(i, r)| posting(town, format!("r{round}-{i}"), budget, *r, dec!(1.00)))
            .collect();
        ledger::post_bulk(&mut tx, town, &batch)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let (scans, read): (i64, i64) = sqlx::query_as(
        "SELECT seq_scan, seq_tup_read FROM pg_stat_xact_user_tables
         WHERE relname = 'ledger_balances'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (scans, read),
        (0, 0),
        "the balances table was read whole {scans} times ({read} rows)"
    );
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ledger::balance_of(&mut c, budget).await.ok(),
        Some(dec!(40.00))
    );
    for r in &receivables {
        assert_eq!(ledger::balance_of(&mut c, *r).await.ok(), Some(dec!(2.00)));
    }
}
