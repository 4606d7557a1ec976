//! The admin CLI as a user runs it: `towncard seed-demo` then `towncard audit`, against
//! a per-test database, including a tampered journal.

use std::process::Command;

use sqlx::PgPool;

fn admin_url(admin: &PgPool) -> String {
    let o = admin.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or("postgres")
    )
}

fn towncard(admin: &PgPool, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_towncard"))
        .args(args)
        .env("TOWNCARD__DATABASE__ADMIN_URL", admin_url(admin))
        .env("TOWNCARD__LOG__FILTER", "warn")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A `count(*)` query's answer (-1 if it fails).
async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

#[sqlx::test(migrations = "../../migrations")]
async fn seed_is_idempotent_and_the_demo_passes_audit(admin: PgPool) {
    let (ok, out) = towncard(&admin, &["seed-demo"]);
    assert!(ok, "{out}");
    let before = (
        count(&admin, "SELECT count(*) FROM merchants").await,
        count(&admin, "SELECT count(*) FROM cards").await,
        count(&admin, "SELECT count(*) FROM journal_transactions").await,
    );
    assert!(
        before.0 >= 3 && before.1 >= 10 && before.2 >= 1,
        "{before:?}"
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM promotions WHERE name = 'Razvajaj se v mestu'"
        )
        .await,
        1
    );

    // A tablet enrols with the demo code; seeding again makes the code usable again.
    let used = sqlx::query("UPDATE device_enrolments SET used_at = now()")
        .execute(&admin)
        .await
        .map(|r| r.rows_affected())
        .unwrap_or(0);
    assert_eq!(used, 1, "the demo has one enrolment code");

    let (ok, out) = towncard(&admin, &["seed-demo"]);
    assert!(ok, "{out}");
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM device_enrolments WHERE used_at IS NULL AND expires_at > now()"
        )
        .await,
        1
    );
    let after = (
        count(&admin, "SELECT count(*) FROM merchants").await,
        count(&admin, "SELECT count(*) FROM cards").await,
        count(&admin, "SELECT count(*) FROM journal_transactions").await,
    );
    assert_eq!(before, after, "seeding twice changes nothing");

    let (ok, out) = towncard(&admin, &["audit"]);
    assert!(ok, "{out}");
    assert!(out.contains("audit passed"), "{out}");
    let (ok, out) = towncard(&admin, &["audit", "--town", "koper"]);
    assert!(ok, "{out}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn audit_exits_non_zero_naming_the_edited_transaction(admin: PgPool) {
    let (ok, out) = towncard(&admin, &["seed-demo"]);
    assert!(ok, "{out}");
    let victim: uuid::Uuid = sqlx::query_scalar("SELECT id FROM journal_transactions LIMIT 1")
        .fetch_one(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tx = admin.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for sql in [
        "ALTER TABLE journal_transactions DISABLE TRIGGER journal_transactions_append_only",
        "UPDATE journal_transactions SET memo = memo || ' (edited)'",
        "ALTER TABLE journal_transactions ENABLE TRIGGER journal_transactions_append_only",
    ] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = towncard(&admin, &["audit"]);
    assert!(!ok, "audit must fail: {out}");
    assert!(out.contains(&victim.to_string()), "{out}");
    assert!(out.contains("audit FAILED"), "{out}");
}

#[test]
fn keys_generate_writes_a_usable_key() {
    let dir = std::env::temp_dir().join(format!("towncard-cli-keys-{}", uuid::Uuid::new_v4()));
    let out = Command::new(env!("CARGO_BIN_EXE_towncard"))
        .args(["keys", "generate", "--dir"])
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let kid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(kid.starts_with("ed-"), "{kid}");
    let pem = std::fs::read_to_string(dir.join(format!("{kid}.pem"))).unwrap_or_default();
    assert!(pem.contains("BEGIN PRIVATE KEY"));
    let mut s = platform::Settings::default().auth;
    s.keys_dir = dir.clone();
    assert!(platform::JwtKeys::load(&s).is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

/// The backup procedure of docs/operations.md: a logical dump restored into a new
/// database passes the audit, and the restored journal takes new postings that chain
/// onto its lane heads.
#[sqlx::test(migrations = "../../migrations")]
async fn a_restored_dump_passes_audit_and_takes_new_postings(admin: PgPool) {
    let (ok, out) = towncard(&admin, &["seed-demo"]);
    assert!(ok, "{out}");
    let url = admin_url(&admin);
    let source = admin
        .connect_options()
        .get_database()
        .unwrap_or("")
        .to_owned();
    // (Database names stop at 63 bytes, and the test's own is that long already.)
    let restored = format!("restored_{}", uuid::Uuid::new_v4().simple());
    let dump = std::env::temp_dir().join(format!("towncard-{}.dump", uuid::Uuid::new_v4()));
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&url));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{restored}\""
    )))
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let restored_url = url.replace(&format!("/{source}"), &format!("/{restored}"));
    run(Command::new("pg_restore")
        .args(["--exit-on-error", "--dbname"])
        .arg(&restored_url)
        .arg(&dump));
    let _ = std::fs::remove_file(&dump);

    let copy = PgPool::connect(&restored_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let journal = "SELECT count(*) FROM journal_transactions";
    assert_eq!(count(&copy, journal).await, count(&admin, journal).await);
    let (ok, out) = towncard(&copy, &["audit"]);
    assert!(ok && out.contains("audit passed"), "{out}");
    // The journal's guards came back with it.
    let edit = sqlx::query("UPDATE journal_transactions SET memo = 'edited'")
        .execute(&copy)
        .await;
    assert!(edit.is_err(), "the restored journal must refuse an update");

    // A new posting on the restored ledger chains onto the restored lanes.
    let (town, funding, budget): (uuid::Uuid, uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "SELECT f.town_id, f.id, b.id FROM ledger_accounts f
         JOIN ledger_accounts b ON b.town_id = f.town_id AND b.kind = 'promotion_budget'
         WHERE f.kind = 'municipality_funding' LIMIT 1",
    )
    .fetch_one(&copy)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let amount = rust_decimal::Decimal::new(10_000, 2);
    let mut conn = copy.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    ledger::post(
        &mut conn,
        &ledger::Posting {
            town: kernel::TownId::from_uuid(town),
            idempotency_key: "restore-drill:top-up".into(),
            kind: ledger::PostingKind::BudgetFunding,
            memo: "after the restore".into(),
            reverses: None,
            entries: vec![
                ledger::Entry {
                    account: kernel::AccountId::from_uuid(funding),
                    amount: -amount,
                },
                ledger::Entry {
                    account: kernel::AccountId::from_uuid(budget),
                    amount,
                },
            ],
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    assert_eq!(
        count(&copy, journal).await,
        count(&admin, journal).await + 1
    );
    let (ok, out) = towncard(&copy, &["audit"]);
    assert!(ok && out.contains("audit passed"), "{out}");

    copy.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{restored}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}
