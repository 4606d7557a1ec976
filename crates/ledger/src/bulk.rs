//! `post_bulk`: many new transactions in one round trip: a batch of redemptions, a
//! month's settlement, data loads and benchmarks.
//!
//! Each posting is validated like [`crate::post`], the balances change by the net
//! amount per account (guarded accounts still never go below zero), and the
//! transactions are chained on one lane in order, with the same hash as `post`
//! computes, so `audit` stays clean. Unlike `post` it does not replay keys: a key
//! that was posted before makes the whole batch fail with a unique violation.
//! Runtime queries, so adding it needs no offline query data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kernel::{AccountId, TownId, TransactionId};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::posting::{Posting, describe};
use crate::{LANES, LedgerError};

/// Posts `postings` (all of `town`) as new transactions; returns their ids in order.
/// All or nothing, in one round trip (`ledger_post_bulk()`): a refusal leaves the
/// caller's transaction as it was.
pub async fn post_bulk(
    conn: &mut PgConnection,
    town: TownId,
    postings: &[Posting],
) -> Result<Vec<TransactionId>, LedgerError> {
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    let mut net: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for p in postings {
        if p.town != town {
            return Err(LedgerError::Invalid(
                "a bulk posting is for one town".into(),
            ));
        }
        p.check()?;
        for e in &p.entries {
            *net.entry(e.account.as_uuid()).or_default() += e.amount;
        }
    }
    let ids: Vec<Uuid> = net.keys().copied().collect();
    let accounts = describe(conn, town, &ids).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !accounts.iter().any(|a| a.id.as_uuid() == **id))
    {
        return Err(LedgerError::UnknownAccount(AccountId::from_uuid(*missing)));
    }
    // Every account's net change, in ascending id order (the lock order).
    let (mut a_id, mut a_shards, mut a_guarded, mut a_delta) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for a in &accounts {
        let delta = net[&a.id.as_uuid()];
        if !delta.is_zero() {
            a_id.push(a.id.as_uuid());
            a_shards.push(a.shards);
            a_guarded.push(a.non_negative);
            a_delta.push(delta);
        }
    }

    let now = Utc::now();
    let posted_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let n = postings.len();
    let mut t_id = Vec::with_capacity(n);
    let mut t_key = Vec::with_capacity(n);
    let mut t_body = Vec::with_capacity(n);
    let mut t_kind = Vec::with_capacity(n);
    let mut t_memo = Vec::with_capacity(n);
    let mut t_rev: Vec<Option<Uuid>> = Vec::with_capacity(n);
    let mut t_head = Vec::with_capacity(n);
    let mut t_tail = Vec::with_capacity(n);
    let (mut e_tx, mut e_idx, mut e_acct, mut e_amt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(n);
    for p in postings {
        let id = TransactionId::new();
        let (head, tail) = p.chain_parts(id, posted_at);
        for (i, e) in p.entries.iter().enumerate() {
            e_tx.push(id.as_uuid());
            e_idx.push(i as i16);
            e_acct.push(e.account.as_uuid());
            e_amt.push(e.amount);
        }
        t_id.push(id.as_uuid());
        t_key.push(p.idempotency_key.as_str());
        t_body.push(p.body());
        t_kind.push(p.kind.as_str());
        t_memo.push(p.memo.as_str());
        t_rev.push(p.reverses.map(|t| t.as_uuid()));
        t_head.push(head);
        t_tail.push(tail);
        out.push(id);
    }
    let refused: Option<Uuid> = sqlx::query_scalar(
        "SELECT ledger_post_bulk($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                 $15, $16, $17, $18, $19)",
    )
    .bind(town.as_uuid())
    .bind(LANES)
    .bind(posted_at)
    .bind(&t_id)
    .bind(&t_key)
    .bind(&t_body)
    .bind(&t_kind)
    .bind(&t_memo)
    .bind(&t_rev)
    .bind(&t_head)
    .bind(&t_tail)
    .bind(&e_tx)
    .bind(&e_idx)
    .bind(&e_acct)
    .bind(&e_amt)
    .bind(&a_id)
    .bind(&a_delta)
    .bind(&a_shards)
    .bind(&a_guarded)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(a) = refused {
        return Err(LedgerError::InsufficientBalance(AccountId::from_uuid(a)));
    }
    Ok(out)
}

/// Digest of a town's lane heads (lane, seq, hash), e.g. to print on a report.
pub async fn lane_heads_digest(
    conn: &mut PgConnection,
    town: TownId,
) -> Result<String, LedgerError> {
    use sha2::{Digest, Sha256};
    let rows = sqlx::query(
        "SELECT lane, seq, head_hash FROM journal_lanes WHERE town_id = $1 ORDER BY lane",
    )
    .bind(town.as_uuid())
    .fetch_all(&mut *conn)
    .await?;
    let mut h = Sha256::new();
    for r in rows {
        h.update(r.get::<i16, _>("lane").to_be_bytes());
        h.update(r.get::<i64, _>("seq").to_be_bytes());
        h.update(r.get::<Vec<u8>, _>("head_hash"));
    }
    Ok(hex::encode(h.finalize()))
}
