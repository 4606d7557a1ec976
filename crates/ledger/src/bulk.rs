//! `post_bulk`: many new transactions in one round trip, for data loads and benchmarks.
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
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

use crate::LedgerError;
use crate::posting::Posting;

/// Posts `postings` (all of `town`) as new transactions; returns their ids in order.
/// All or nothing: runs in a savepoint of the caller's transaction (or its own).
pub async fn post_bulk(
    conn: &mut PgConnection,
    town: TownId,
    postings: &[Posting],
) -> Result<Vec<TransactionId>, LedgerError> {
    let mut sp = conn.begin().await?;
    let ids = apply_bulk(&mut sp, town, postings).await?;
    sp.commit().await?;
    Ok(ids)
}

async fn apply_bulk(
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
    let rows = sqlx::query(
        "SELECT id, non_negative, shards
         FROM ledger_accounts WHERE town_id = $1 AND id = ANY($2) ORDER BY id",
    )
    .bind(town.as_uuid())
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() != ids.len() {
        let found: Vec<Uuid> = rows.iter().map(|r| r.get::<Uuid, _>("id")).collect();
        let missing = ids
            .iter()
            .find(|i| !found.contains(i))
            .copied()
            .unwrap_or_default();
        return Err(LedgerError::UnknownAccount(AccountId::from_uuid(missing)));
    }
    // Every account's net change in one round trip, in ascending id order (the
    // rows are), by the same rules as `post`.
    let (mut a_id, mut a_shards, mut a_guarded, mut a_delta) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let id: Uuid = r.get("id");
        let delta = net[&id];
        if !delta.is_zero() {
            a_id.push(id);
            a_shards.push(r.get::<i16, _>("shards"));
            a_guarded.push(r.get::<bool, _>("non_negative"));
            a_delta.push(delta);
        }
    }
    let refused: Option<Uuid> = sqlx::query_scalar("SELECT ledger_apply_balances($1, $2, $3, $4)")
        .bind(&a_id)
        .bind(&a_shards)
        .bind(&a_guarded)
        .bind(&a_delta)
        .fetch_one(&mut *conn)
        .await?;
    if let Some(a) = refused {
        return Err(LedgerError::InsufficientBalance(AccountId::from_uuid(a)));
    }

    // One lane for the whole batch: a free one, else wait for lane 0 (as `ledger_post`
    // does, so concurrent batches and postings do not queue behind one lane). A
    // town's first posting creates its lanes.
    let mut lane_row = free_lane(conn, town).await?;
    if lane_row.is_none() {
        crate::init_town(conn, town).await?;
        lane_row = free_lane(conn, town).await?;
    }
    let lane_row = match lane_row {
        Some(row) => row,
        None => {
            sqlx::query(
                "SELECT lane, seq, head_hash FROM journal_lanes WHERE town_id = $1
                 ORDER BY lane LIMIT 1 FOR UPDATE",
            )
            .bind(town.as_uuid())
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let lane: i16 = lane_row.get("lane");
    let mut seq: i64 = lane_row.get("seq");
    let mut prev: Vec<u8> = lane_row.get("head_hash");

    let now = Utc::now();
    let posted_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let n = postings.len();
    let mut t_id = Vec::with_capacity(n);
    let mut t_seq = Vec::with_capacity(n);
    let mut t_key = Vec::with_capacity(n);
    let mut t_body = Vec::with_capacity(n);
    let mut t_kind = Vec::with_capacity(n);
    let mut t_memo = Vec::with_capacity(n);
    let mut t_rev: Vec<Option<Uuid>> = Vec::with_capacity(n);
    let mut t_prev = Vec::with_capacity(n);
    let mut t_hash = Vec::with_capacity(n);
    let (mut e_tx, mut e_idx, mut e_acct, mut e_amt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(n);
    for p in postings {
        seq += 1;
        let id = TransactionId::new();
        let digest = p.chain_hash(id, lane, seq, posted_at, &prev);
        for (i, e) in p.entries.iter().enumerate() {
            e_tx.push(id.as_uuid());
            e_idx.push(i as i16);
            e_acct.push(e.account.as_uuid());
            e_amt.push(e.amount);
        }
        t_id.push(id.as_uuid());
        t_seq.push(seq);
        t_key.push(p.idempotency_key.clone());
        t_body.push(p.body());
        t_kind.push(p.kind.as_str());
        t_memo.push(p.memo.clone());
        t_rev.push(p.reverses.map(|t| t.as_uuid()));
        t_prev.push(std::mem::replace(&mut prev, digest.clone()));
        t_hash.push(digest);
        out.push(id);
    }
    sqlx::query(
        "INSERT INTO journal_transactions
             (id, town_id, lane, seq, idempotency_key, body_hash, kind, memo, reverses,
              posted_at, prev_hash, hash)
         SELECT id, $1, $2, seq, key, body, kind, memo, rev, $3, prev, hash
         FROM UNNEST($4::uuid[], $5::bigint[], $6::text[], $7::bytea[], $8::text[], $9::text[],
                     $10::uuid[], $11::bytea[], $12::bytea[])
              AS u(id, seq, key, body, kind, memo, rev, prev, hash)",
    )
    .bind(town.as_uuid())
    .bind(lane)
    .bind(posted_at)
    .bind(&t_id)
    .bind(&t_seq)
    .bind(&t_key)
    .bind(&t_body)
    .bind(&t_kind)
    .bind(&t_memo)
    .bind(&t_rev)
    .bind(&t_prev)
    .bind(&t_hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO journal_entries (transaction_id, idx, town_id, account_id, amount)
         SELECT t, i, $1, a, m FROM UNNEST($2::uuid[], $3::smallint[], $4::uuid[], $5::numeric[])
              AS u(t, i, a, m)",
    )
    .bind(town.as_uuid())
    .bind(&e_tx)
    .bind(&e_idx)
    .bind(&e_acct)
    .bind(&e_amt)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE journal_lanes SET seq = $3, head_hash = $4 WHERE town_id = $1 AND lane = $2",
    )
    .bind(town.as_uuid())
    .bind(lane)
    .bind(seq)
    .bind(&prev)
    .execute(&mut *conn)
    .await?;
    Ok(out)
}

async fn free_lane(
    conn: &mut PgConnection,
    town: TownId,
) -> Result<Option<sqlx::postgres::PgRow>, sqlx::Error> {
    sqlx::query(
        "SELECT lane, seq, head_hash FROM journal_lanes WHERE town_id = $1
         ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind(town.as_uuid())
    .fetch_optional(&mut *conn)
    .await
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
