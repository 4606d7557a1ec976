//! The ledger against a real Postgres: each test gets its own database
//! (`#[sqlx::test]`), migrated, and acts as the service role `towncard_app`.

use std::sync::Arc;

use kernel::{AccountId, TownId};
use ledger::{AccountKind, Entry, LedgerError, NewAccount, Posting, PostingKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

/// A pool on the same test database, logged in as the service role.
async fn app_pool(admin: &PgPool) -> PgPool {
    let opts = admin
        .connect_options()
        .as_ref()
        .clone()
        .username("towncard_app");
    PgPoolOptions::new()
        .max_connections(24)
        .connect_with(opts)
        .await
        .unwrap_or_else(|e| panic!("service role cannot connect: {e}"))
}

async fn begin(pool: &PgPool, town: TownId) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("SELECT set_config('towncard.town_id', $1, true)")
        .bind(town.to_string())
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx
}

async fn make_town(admin: &PgPool, slug: &str, code: i16) -> TownId {
    let town = TownId::new();
    sqlx::query("INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, $2, $3, $2, 'SI56191000000123438')")
        .bind(town.as_uuid())
        .bind(slug)
        .bind(code)
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    town
}

async fn open(pool: &PgPool, town: TownId, kind: AccountKind, name: &str) -> AccountId {
    let mut tx = begin(pool, town).await;
    let id = ledger::ensure_account(
        &mut tx,
        &NewAccount {
            town,
            kind,
            owner: Some(uuid::Uuid::new_v4()),
            name: name.into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    id
}

fn transfer(town: TownId, key: &str, from: AccountId, to: AccountId, amount: Decimal) -> Posting {
    Posting {
        town,
        idempotency_key: key.into(),
        kind: PostingKind::Adjustment,
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

async fn post(pool: &PgPool, p: &Posting) -> Result<ledger::Posted, LedgerError> {
    let mut tx = begin(pool, p.town).await;
    let r = ledger::post(&mut tx, p).await;
    if r.is_ok() {
        tx.commit().await?;
    }
    r
}

async fn balance(pool: &PgPool, town: TownId, account: AccountId) -> Decimal {
    let mut tx = begin(pool, town).await;
    ledger::balance_of(&mut tx, account)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn audit(admin: &PgPool) -> ledger::AuditReport {
    let mut conn = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    ledger::audit(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn random_postings_keep_every_invariant(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "prop", 201).await;
    let kinds = [
        AccountKind::MunicipalityFunding,
        AccountKind::MerchantReceivable,
        AccountKind::DiscountsGranted,
        AccountKind::MerchantOwnDiscount,
        AccountKind::Payouts,
    ];
    let mut accounts = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        accounts.push(open(&pool, town, *k, &format!("a{i}")).await);
    }
    // Random balanced postings: 1..5 debits of random cents, balanced by one credit.
    let strategy = proptest::collection::vec((0usize..5, 1i64..1_000_000), 1..5);
    let mut runner = TestRunner::deterministic();
    let mut expected = vec![Decimal::ZERO; accounts.len()];
    for n in 0..60 {
        let legs = strategy
            .new_tree(&mut runner)
            .map(|t| t.current())
            .unwrap_or_default();
        let sink = n % accounts.len();
        let mut entries = Vec::new();
        let mut total = Decimal::ZERO;
        for (a, cents) in legs {
            let amount = Decimal::new(cents, 2);
            total += amount;
            expected[a] += amount;
            entries.push(Entry {
                account: accounts[a],
                amount,
            });
        }
        expected[sink] -= total;
        entries.push(Entry {
            account: accounts[sink],
            amount: -total,
        });
        let p = Posting {
            town,
            idempotency_key: format!("prop-{n}"),
            kind: PostingKind::Adjustment,
            memo: format!("random posting {n}"),
            reverses: None,
            entries,
        };
        match post(&pool, &p).await {
            Ok(_) => {}
            // A leg may cancel the sink to zero net; zero-amount entries are refused whole.
            Err(LedgerError::Invalid(m)) if m.contains("zero") => {
                for e in &p.entries {
                    let i = accounts.iter().position(|a| *a == e.account).unwrap_or(0);
                    expected[i] -= e.amount;
                }
            }
            Err(e) => panic!("posting {n} failed: {e}"),
        }
    }
    for (a, want) in accounts.iter().zip(&expected) {
        assert_eq!(balance(&pool, town, *a).await, *want);
    }
    let report = audit(&admin).await;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert!(report.transactions >= 50);
}

#[sqlx::test(migrations = "../../migrations")]
async fn unbalanced_and_sub_cent_postings_are_refused(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "bad", 202).await;
    let a = open(&pool, town, AccountKind::MerchantReceivable, "a").await;
    let b = open(&pool, town, AccountKind::DiscountsGranted, "b").await;
    let mut p = transfer(town, "k1", a, b, dec!(1.00));
    p.entries[1].amount = dec!(1.01);
    assert!(matches!(
        post(&pool, &p).await,
        Err(LedgerError::Invalid(_))
    ));
    let p = transfer(town, "k2", a, b, dec!(0.001));
    assert!(matches!(
        post(&pool, &p).await,
        Err(LedgerError::Invalid(_))
    ));
    let mut p = transfer(town, "k3", a, b, dec!(1));
    p.entries.pop();
    assert!(matches!(
        post(&pool, &p).await,
        Err(LedgerError::Invalid(_))
    ));
    let p = transfer(town, "k4", a, AccountId::new(), dec!(1));
    assert!(matches!(
        post(&pool, &p).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    assert_eq!(audit(&admin).await.transactions, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn five_hundred_concurrent_postings_give_the_exact_balance(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "conc", 203).await;
    let hot = open(&pool, town, AccountKind::DiscountsGranted, "hot").await;
    let mut sources = Vec::new();
    for i in 0..8 {
        sources.push(
            open(
                &pool,
                town,
                AccountKind::MerchantReceivable,
                &format!("s{i}"),
            )
            .await,
        );
    }
    let pool = Arc::new(pool);
    let mut tasks = Vec::new();
    for n in 0..500 {
        let pool = pool.clone();
        let from = sources[n % sources.len()];
        tasks.push(tokio::spawn(async move {
            let p = transfer(town, &format!("c-{n}"), from, hot, dec!(0.37));
            post(&pool, &p).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(r.is_ok(), "posting failed under concurrency: {r:?}");
    }
    assert_eq!(balance(&pool, town, hot).await, dec!(185.00));
    let report = audit(&admin).await;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.transactions, 500);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_guarded_account_never_goes_negative_under_concurrent_debits(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "budget", 204).await;
    let funding = open(&pool, town, AccountKind::MunicipalityFunding, "funding").await;
    let budget = open(&pool, town, AccountKind::PromotionBudget, "budget").await;
    let receivable = open(&pool, town, AccountKind::MerchantReceivable, "merchant").await;
    post(
        &pool,
        &transfer(town, "fund", funding, budget, dec!(100.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let pool = Arc::new(pool);
    let mut tasks = Vec::new();
    for n in 0..300 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            post(
                &pool,
                &transfer(town, &format!("d-{n}"), budget, receivable, dec!(1.00)),
            )
            .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap_or_else(|e| panic!("{e}")) {
            Ok(_) => ok += 1,
            Err(LedgerError::InsufficientBalance(a)) => {
                assert_eq!(a, budget);
                refused += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((ok, refused), (100, 200));
    assert_eq!(balance(&pool, town, budget).await, dec!(0.00));
    assert_eq!(balance(&pool, town, receivable).await, dec!(100.00));
    let shards: Vec<Decimal> =
        sqlx::query_scalar("SELECT balance FROM ledger_balances WHERE account_id = $1")
            .bind(budget.as_uuid())
            .fetch_all(&admin)
            .await
            .unwrap_or_default();
    assert_eq!(shards.len(), 16, "the budget is sharded");
    assert!(shards.iter().all(|b| *b >= Decimal::ZERO));
    assert!(audit(&admin).await.is_clean());
}

#[sqlx::test(migrations = "../../migrations")]
async fn replay_returns_the_first_result_and_a_changed_body_conflicts(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "idem", 205).await;
    let a = open(&pool, town, AccountKind::MerchantReceivable, "a").await;
    let b = open(&pool, town, AccountKind::DiscountsGranted, "b").await;
    let p = transfer(town, "same-key", a, b, dec!(2.50));
    let first = post(&pool, &p).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!first.replayed);
    let again = post(&pool, &p).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(again.replayed);
    assert_eq!(again.id, first.id);
    let changed = transfer(town, "same-key", a, b, dec!(2.51));
    assert!(matches!(
        post(&pool, &changed).await,
        Err(LedgerError::IdempotencyConflict(_))
    ));
    assert_eq!(balance(&pool, town, b).await, dec!(2.50));

    // Racing the same key: exactly one transaction is written.
    let pool = Arc::new(pool);
    let race = transfer(town, "raced", a, b, dec!(1.00));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, race) = (pool.clone(), race.clone());
            tokio::spawn(async move { post(&pool, &race).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(
            t.await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}"))
                .id,
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(balance(&pool, town, b).await, dec!(3.50));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_replay_is_answered_even_when_the_posting_could_not_be_made_again(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "drain", 207).await;
    let funding = open(&pool, town, AccountKind::MunicipalityFunding, "funding").await;
    let budget = open(&pool, town, AccountKind::PromotionBudget, "budget").await;
    let receivable = open(&pool, town, AccountKind::MerchantReceivable, "merchant").await;
    post(&pool, &transfer(town, "fund", funding, budget, dec!(5.00)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let drain = transfer(town, "drain", budget, receivable, dec!(5.00));
    let first = post(&pool, &drain).await.unwrap_or_else(|e| panic!("{e}"));
    // The budget is empty now: posting it afresh would be refused, a replay is not.
    let again = post(&pool, &drain).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(again.replayed);
    assert_eq!(again.id, first.id);
    assert!(matches!(
        post(
            &pool,
            &transfer(town, "more", budget, receivable, dec!(0.01))
        )
        .await,
        Err(LedgerError::InsufficientBalance(_))
    ));
    assert_eq!(balance(&pool, town, budget).await, dec!(0));
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_entry_cannot_name_another_towns_account(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let here = make_town(&admin, "here", 208).await;
    let there = make_town(&admin, "there", 209).await;
    let a = open(&pool, here, AccountKind::MerchantReceivable, "a").await;
    let b = open(&pool, here, AccountKind::DiscountsGranted, "b").await;
    let foreign = open(&pool, there, AccountKind::DiscountsGranted, "foreign").await;
    let posted = post(&pool, &transfer(here, "k", a, b, dec!(1)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Even the owner, bypassing the ledger and row-level security, cannot add an
    // entry of this town's transaction on the other town's account...
    let posted = posted.id.as_uuid();
    let e = insert_entries(&admin, here, &[(posted, 9, foreign)]).await;
    assert!(
        e.as_deref()
            .is_some_and(|m| m.contains("journal_entries_town_account_fkey")),
        "{e:?}"
    );
    // ...nor one on this town's account of a transaction that is not this town's
    // (the other town's, or none at all), even beside a good entry.
    let source = open(&pool, there, AccountKind::MerchantReceivable, "source").await;
    let theirs = post(&pool, &transfer(there, "t", source, foreign, dec!(1)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for tx in [theirs.id.as_uuid(), uuid::Uuid::now_v7()] {
        let e = insert_entries(&admin, here, &[(posted, 8, a), (tx, 9, a)]).await;
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("journal_entries_transaction_fkey")),
            "{e:?}"
        );
    }
    let entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE transaction_id = $1")
            .bind(posted)
            .fetch_one(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entries, 2, "a refused statement wrote nothing");
}

/// Inserts entries of 1.00 (transaction, index, account) of `town` in one statement,
/// as the owner; returns the error it met.
async fn insert_entries(
    admin: &PgPool,
    town: TownId,
    rows: &[(uuid::Uuid, i16, AccountId)],
) -> Option<String> {
    let tx: Vec<uuid::Uuid> = rows.iter().map(|r| r.0).collect();
    let idx: Vec<i16> = rows.iter().map(|r| r.1).collect();
    let account: Vec<uuid::Uuid> = rows.iter().map(|r| r.2.as_uuid()).collect();
    sqlx::query(
        "INSERT INTO journal_entries (transaction_id, idx, town_id, account_id, amount)
         SELECT t, i, $4, a, 1 FROM unnest($1::uuid[], $2::int2[], $3::uuid[]) AS u(t, i, a)",
    )
    .bind(&tx)
    .bind(&idx)
    .bind(&account)
    .bind(town.as_uuid())
    .execute(admin)
    .await
    .err()
    .map(|e| e.to_string())
}

#[sqlx::test(migrations = "../../migrations")]
async fn ledger_accounts_are_never_deleted_or_rekeyed(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "kept", 210).await;
    let a = open(&pool, town, AccountKind::MerchantReceivable, "a").await;
    for sql in [
        "DELETE FROM ledger_accounts WHERE id = $1",
        "UPDATE ledger_accounts SET id = gen_random_uuid() WHERE id = $1",
        "UPDATE ledger_accounts SET town_id = gen_random_uuid() WHERE id = $1",
    ] {
        let e = sqlx::query(sql)
            .bind(a.as_uuid())
            .execute(&admin)
            .await
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("ledger accounts are kept")),
            "owner could run {sql}: {e:?}"
        );
    }
    let e = sqlx::query("TRUNCATE ledger_accounts CASCADE")
        .execute(&admin)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some(), "owner could truncate the accounts");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_accounts WHERE id = $1")
        .bind(a.as_uuid())
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_database_refuses_to_rewrite_the_journal(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "append", 206).await;
    let a = open(&pool, town, AccountKind::MerchantReceivable, "a").await;
    let b = open(&pool, town, AccountKind::DiscountsGranted, "b").await;
    post(&pool, &transfer(town, "k", a, b, dec!(5)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for sql in [
        "UPDATE journal_entries SET amount = amount * 2",
        "DELETE FROM journal_entries",
        "UPDATE journal_transactions SET memo = 'x'",
        "DELETE FROM journal_transactions",
    ] {
        // The service role has no such privilege...
        let mut tx = begin(&pool, town).await;
        let e = sqlx::query(sql).execute(&mut *tx).await.err();
        assert!(e.is_some(), "service role could run {sql}");
        // ...and the owner is stopped by the trigger.
        let e = sqlx::query(sql)
            .execute(&admin)
            .await
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|m| m.contains("append-only")),
            "owner could run {sql}: {e:?}"
        );
    }
    let e = sqlx::query("TRUNCATE journal_entries")
        .execute(&admin)
        .await;
    assert!(e.is_err());
    assert!(audit(&admin).await.is_clean());
}

#[sqlx::test(migrations = "../../migrations")]
async fn audit_names_a_hand_edited_row(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "tamper", 207).await;
    let a = open(&pool, town, AccountKind::MerchantReceivable, "a").await;
    let b = open(&pool, town, AccountKind::DiscountsGranted, "b").await;
    let mut victim = None;
    for n in 0..10 {
        let posted = post(&pool, &transfer(town, &format!("t{n}"), a, b, dec!(3))).await;
        if n == 4 {
            victim = posted.ok().map(|p| p.id);
        }
    }
    let victim = victim.unwrap_or_else(|| panic!("no victim"));
    assert!(audit(&admin).await.is_clean());

    // Someone with the owner's password disables the guard and edits history.
    let mut tx = admin.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for sql in [
        "ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only",
        "ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only",
    ] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if sql.contains("DISABLE") {
            sqlx::query("UPDATE journal_entries SET amount = -amount WHERE transaction_id = $1")
                .bind(victim.as_uuid())
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));

    let report = audit(&admin).await;
    assert!(!report.is_clean());
    let first = &report.findings[0].message;
    assert!(
        first.contains(&victim.to_string()),
        "first finding should name the edited transaction: {first}"
    );
    assert!(first.contains("hash mismatch"), "{first}");
    // The stored balances no longer match the edited entries either.
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("stored balance"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_town_sees_only_its_own_rows(admin: PgPool) {
    let pool = app_pool(&admin).await;
    let a = make_town(&admin, "town-a", 301).await;
    let b = make_town(&admin, "town-b", 302).await;
    let acct = open(&pool, a, AccountKind::MerchantReceivable, "a's").await;
    let other = open(&pool, a, AccountKind::DiscountsGranted, "a's too").await;
    post(&pool, &transfer(a, "a1", acct, other, dec!(9)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("INSERT INTO merchants (id, town_id, name) VALUES ($1, $2, 'Only in A')")
        .bind(uuid::Uuid::new_v4())
        .bind(a.as_uuid())
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let count = |sql: &'static str, town: Option<TownId>| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap_or_else(|e| panic!("{e}"));
            if let Some(t) = town {
                sqlx::query("SELECT set_config('towncard.town_id', $1, true)")
                    .bind(t.to_string())
                    .execute(&mut *tx)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            n
        }
    };
    for table in [
        "SELECT count(*) FROM merchants",
        "SELECT count(*) FROM ledger_accounts",
        "SELECT count(*) FROM journal_transactions",
        "SELECT count(*) FROM journal_entries",
    ] {
        assert!(count(table, Some(a)).await > 0, "{table} in town A");
        assert_eq!(count(table, Some(b)).await, 0, "{table} leaks into town B");
        assert_eq!(
            count(table, None).await,
            0,
            "{table} visible without a town"
        );
    }

    // Town B cannot write into town A, nor post to A's accounts.
    let mut tx = begin(&pool, b).await;
    let e = sqlx::query("INSERT INTO merchants (id, town_id, name) VALUES ($1, $2, 'sneaky')")
        .bind(uuid::Uuid::new_v4())
        .bind(a.as_uuid())
        .execute(&mut *tx)
        .await;
    assert!(
        e.is_err(),
        "row-level security must refuse a row for another town"
    );
    drop(tx);
    let r = post(&pool, &transfer(b, "b1", acct, other, dec!(1))).await;
    assert!(r.is_err(), "town B posted to town A's accounts");

    // The setting is per transaction: the same pooled connection forgets it.
    let mut conn = pool.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let mut tx = sqlx::Connection::begin(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("SELECT set_config('towncard.town_id', $1, true)")
        .bind(a.to_string())
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM merchants")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 0);

    // And the service role cannot switch row-level security off.
    let bypass: bool = sqlx::query_scalar(
        "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or(true);
    assert!(!bypass);
}

#[sqlx::test(migrations = "../../migrations")]
async fn many_more_concurrent_debits_than_shards_neither_deadlock_nor_queue_on_all_shards(
    admin: PgPool,
) {
    let pool = app_pool(&admin).await;
    let town = make_town(&admin, "busy", 208).await;
    let funding = open(&pool, town, AccountKind::MunicipalityFunding, "funding").await;
    let budget = open(&pool, town, AccountKind::PromotionBudget, "budget").await;
    let receivable = open(&pool, town, AccountKind::MerchantReceivable, "merchant").await;
    post(
        &pool,
        &transfer(town, "fund", funding, budget, dec!(10000.00)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let pool = Arc::new(pool);
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                post(
                    &pool,
                    &transfer(town, &format!("b-{n}"), budget, receivable, dec!(1.25)),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(r.is_ok(), "a covered debit failed: {r:?}");
    }
    assert_eq!(balance(&pool, town, budget).await, dec!(9500.00));
    assert!(audit(&admin).await.is_clean());
}
