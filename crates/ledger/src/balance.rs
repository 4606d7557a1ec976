//! Applying a net change to an account's sharded balance.
//!
//! Deadlock freedom: `post` applies accounts in ascending id order. Within one
//! account a transaction takes a free shard without waiting, or, holding none of
//! its shards, waits for one shard or for all of them in ascending order; it never
//! waits on a shard of an account it already holds one of. So no wait cycle can
//! form.

use rand::Rng;
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::LedgerError;
use crate::account::Account;

pub async fn apply(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<(), LedgerError> {
    let id = account.id.as_uuid();
    if account.shards == 1 {
        return apply_to_shard(conn, id, 0, delta, account).await;
    }
    if delta > Decimal::ZERO && account.non_negative {
        // Funding a guarded account: spread it so every shard can serve debits.
        return spread(conn, account, delta).await;
    }
    if account.non_negative {
        // A lock whose recheck fails stays held (a shard skipped because another
        // transaction had just emptied it), so each attempt runs in a savepoint that
        // is rolled back when it fails: the next one starts holding no shard of this
        // account, as the lock order needs.
        let mut sp = conn.begin().await?;
        if take_free_covering_shard(&mut sp, account, delta).await? {
            sp.commit().await?;
            return Ok(());
        }
        sp.rollback().await?;
        let mut sp = conn.begin().await?;
        if wait_for_covering_shard(&mut sp, account, delta).await? {
            sp.commit().await?;
            return Ok(());
        }
        sp.rollback().await?;
        return consolidate(conn, account, delta).await;
    }
    // Any free shard will do.
    let took = sqlx::query_scalar!(
        "UPDATE ledger_balances SET balance = balance + $2
         WHERE account_id = $1 AND shard = (
             SELECT shard FROM ledger_balances
             WHERE account_id = $1 AND balance >= $3
             ORDER BY random() LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING shard",
        id,
        delta,
        Decimal::MIN,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if took.is_some() {
        return Ok(());
    }
    // Every shard is busy: wait for one at random.
    let shard = rand::thread_rng().gen_range(0..account.shards);
    apply_to_shard(conn, id, shard, delta, account).await
}

/// Debits a free shard that covers the amount, without waiting. False when none.
async fn take_free_covering_shard(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<bool, LedgerError> {
    let id = account.id.as_uuid();
    let need = -delta;
    let took = sqlx::query_scalar!(
        "UPDATE ledger_balances SET balance = balance + $2
         WHERE account_id = $1 AND shard = (
             SELECT shard FROM ledger_balances
             WHERE account_id = $1 AND balance >= $3
             ORDER BY random() LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING shard",
        id,
        delta,
        need,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(took.is_some())
}

/// Waits for one shard that covered the amount a moment ago and debits it. False
/// when no single shard covers it (any more).
async fn wait_for_covering_shard(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<bool, LedgerError> {
    let id = account.id.as_uuid();
    let need = -delta;
    let covering = sqlx::query_scalar!(
        "SELECT shard FROM ledger_balances WHERE account_id = $1 AND balance >= $2
         ORDER BY random() LIMIT 1",
        id,
        need,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match covering {
        Some(shard) => match apply_to_shard(conn, id, shard, delta, account).await {
            Ok(()) => Ok(true),
            Err(LedgerError::InsufficientBalance(_)) => Ok(false),
            Err(e) => Err(e),
        },
        None => Ok(false),
    }
}

async fn apply_to_shard(
    conn: &mut PgConnection,
    id: Uuid,
    shard: i16,
    delta: Decimal,
    account: &Account,
) -> Result<(), LedgerError> {
    let guard = if account.non_negative {
        -delta
    } else {
        Decimal::MIN
    };
    let done = sqlx::query!(
        "UPDATE ledger_balances SET balance = balance + $3
         WHERE account_id = $1 AND shard = $2 AND balance >= $4",
        id,
        shard,
        delta,
        guard,
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(LedgerError::InsufficientBalance(account.id))
    }
}

/// Locks every shard in order and sums them; used when no single shard is enough.
async fn lock_all(conn: &mut PgConnection, id: Uuid) -> Result<Vec<(i16, Decimal)>, LedgerError> {
    let rows = sqlx::query!(
        "SELECT shard, balance FROM ledger_balances WHERE account_id = $1 ORDER BY shard FOR UPDATE",
        id,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.shard, r.balance)).collect())
}

async fn spread(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<(), LedgerError> {
    let shards = lock_all(conn, account.id.as_uuid()).await?;
    let n = Decimal::from(shards.len());
    let mut part = (delta / n).trunc_with_scale(2);
    part.rescale(2);
    let rest = delta - part * n;
    // Shard 0 takes the cents that do not divide evenly.
    sqlx::query!(
        "UPDATE ledger_balances SET balance = balance + $2::numeric + CASE WHEN shard = 0 THEN $3::numeric ELSE 0 END
         WHERE account_id = $1",
        account.id.as_uuid(),
        part,
        rest,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gathers the whole balance of a guarded account to pay a debit no single shard covers.
async fn consolidate(
    conn: &mut PgConnection,
    account: &Account,
    delta: Decimal,
) -> Result<(), LedgerError> {
    let shards = lock_all(conn, account.id.as_uuid()).await?;
    let total: Decimal = shards.iter().map(|(_, b)| *b).sum();
    let left = total + delta;
    if left < Decimal::ZERO {
        return Err(LedgerError::InsufficientBalance(account.id));
    }
    // Spread the remainder again when each shard can still serve a debit of this
    // size; otherwise keep it whole in shard 0 so the fast path can still find it.
    let n = Decimal::from(shards.len());
    let mut part = (left / n).trunc_with_scale(2);
    if part < -delta {
        part = Decimal::ZERO;
    }
    part.rescale(2);
    let rest = left - part * n;
    sqlx::query!(
        "UPDATE ledger_balances SET balance = $2::numeric + CASE WHEN shard = 0 THEN $3::numeric ELSE 0 END
         WHERE account_id = $1",
        account.id.as_uuid(),
        part,
        rest,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
