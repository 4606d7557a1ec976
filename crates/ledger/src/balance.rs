//! Applying a net change to an account's sharded balance.
//!
//! The rules (free shard first, a guarded account never below zero, the lock order
//! that keeps it deadlock-free) live in the database function
//! `ledger_apply_balance()` (migration `20261122000001`), which `ledger_post()` also
//! uses, so there is one implementation of them.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::LedgerError;
use crate::account::Account;

pub async fn apply(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<(), LedgerError> {
    let done = sqlx::query_scalar!(
        r#"SELECT ledger_apply_balance($1, $2, $3, $4) AS "done!""#,
        account.id.as_uuid(),
        account.shards,
        account.non_negative,
        delta,
    )
    .fetch_one(&mut *conn)
    .await?;
    if done {
        Ok(())
    } else {
        Err(LedgerError::InsufficientBalance(account.id))
    }
}
