//! `post`: one balanced, idempotent, hash-chained journal transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Utc};
use kernel::{AccountId, TownId, TransactionId};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::account::Account;
use crate::error::is_unique_violation;
use crate::hash::{self, Chained};
use crate::{LANES, LedgerError};

/// The business event a transaction records (docs/ledger.md has each one's entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostingKind {
    BudgetFunding,
    Redemption,
    Void,
    Refund,
    PointsEarn,
    PointsSpend,
    Payout,
    Adjustment,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::BudgetFunding => "budget_funding",
            PostingKind::Redemption => "redemption",
            PostingKind::Void => "void",
            PostingKind::Refund => "refund",
            PostingKind::PointsEarn => "points_earn",
            PostingKind::PointsSpend => "points_spend",
            PostingKind::Payout => "payout",
            PostingKind::Adjustment => "adjustment",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub account: AccountId,
    /// Added to the account's balance; a transaction's amounts sum to zero.
    pub amount: Decimal,
}

#[derive(Clone, Debug)]
pub struct Posting {
    pub town: TownId,
    /// Chosen by the client (or derived from its request); retries reuse it.
    pub idempotency_key: String,
    pub kind: PostingKind,
    pub memo: String,
    pub reverses: Option<TransactionId>,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub id: TransactionId,
    pub posted_at: DateTime<Utc>,
    /// True when this call found the key already posted with the same body.
    pub replayed: bool,
}

const MAX_ENTRIES: usize = 64;
const MAX_ABS: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

impl Posting {
    fn validate(&self) -> Result<(), LedgerError> {
        let bad = |m: &str| Err(LedgerError::Invalid(m.to_owned()));
        if self.idempotency_key.is_empty() || self.idempotency_key.len() > 200 {
            return bad("idempotency key must be 1 to 200 characters");
        }
        if self.entries.len() < 2 || self.entries.len() > MAX_ENTRIES {
            return bad("a transaction has 2 to 64 entries");
        }
        for e in &self.entries {
            if e.amount.is_zero() {
                return bad("an entry amount cannot be zero");
            }
            if e.amount.normalize().scale() > 2 {
                return bad("amounts have at most two decimals");
            }
            if e.amount.abs() > MAX_ABS {
                return bad("amount out of range");
            }
        }
        if self.entries.iter().map(|e| e.amount).sum::<Decimal>() != Decimal::ZERO {
            return bad("entries must sum to zero");
        }
        Ok(())
    }

    /// Validation and body hash for `post_bulk`.
    pub(crate) fn check(&self) -> Result<(), LedgerError> {
        self.validate()
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        self.body_hash()
    }

    /// The fields the chain hash covers, as transaction `id` at `seq` of `lane`: the
    /// one definition `post`, `post_bulk` and (from stored rows) the audit agree on.
    fn chained(
        &self,
        id: TransactionId,
        lane: i16,
        seq: i64,
        posted_at: DateTime<Utc>,
    ) -> Chained<'_> {
        Chained {
            v: 1,
            id: id.as_uuid(),
            town: self.town.as_uuid(),
            lane,
            seq,
            key: &self.idempotency_key,
            kind: self.kind.as_str(),
            memo: &self.memo,
            reverses: self.reverses.map(|t| t.as_uuid()),
            posted_at_us: posted_at.timestamp_micros(),
            entries: self
                .entries
                .iter()
                .map(|e| (e.account.as_uuid(), hash::cents(e.amount)))
                .collect(),
        }
    }

    /// The chained fields' canonical JSON around the lane and sequence, for a
    /// posting whose lane the database picks (`hash::chain_parts`).
    pub(crate) fn chain_parts(
        &self,
        id: TransactionId,
        posted_at: DateTime<Utc>,
    ) -> (Vec<u8>, Vec<u8>) {
        hash::chain_parts(&self.chained(id, 0, 0, posted_at))
    }

    fn body_hash(&self) -> Vec<u8> {
        hash::body_hash(
            self.kind.as_str(),
            &self.memo,
            self.reverses.map(|t| t.as_uuid()),
            self.entries.iter().map(|e| (e.account.as_uuid(), e.amount)),
        )
    }
}

/// Posts the transaction, or returns the earlier result for a replayed key.
///
/// Runs in a savepoint of the caller's transaction (or its own transaction), so a
/// failure leaves nothing behind and the caller's other work is untouched. A new
/// key is the common case, so the key is looked up only when the posting fails
/// (the journal's unique key, or a refusal that a replay must still answer).
pub async fn post(conn: &mut PgConnection, p: &Posting) -> Result<Posted, LedgerError> {
    p.validate()?;
    let body = p.body_hash();
    let mut sp = conn.begin().await?;
    match apply(&mut sp, p, &body).await {
        Ok(posted) => {
            sp.commit().await?;
            Ok(posted)
        }
        Err(e) => {
            sp.rollback().await?;
            let lost_race = matches!(&e, LedgerError::Db(d)
                if is_unique_violation(d, "journal_transactions_idempotency"));
            match replay(conn, p, &body).await? {
                Some(done) => Ok(done),
                None if lost_race => {
                    Err(LedgerError::Invalid("idempotent posting vanished".into()))
                }
                None => Err(e),
            }
        }
    }
}

/// Posts a transaction whose key the caller owns: in this same database
/// transaction it has locked the key and seen that nothing was recorded under it
/// (a redemption's `Idempotency-Key`), so there is nothing to replay. No savepoint:
/// a failure fails the caller's transaction, which the caller rolls back.
pub async fn post_owned_key(conn: &mut PgConnection, p: &Posting) -> Result<Posted, LedgerError> {
    p.validate()?;
    let body = p.body_hash();
    apply(conn, p, &body).await
}

async fn replay(
    conn: &mut PgConnection,
    p: &Posting,
    body: &[u8],
) -> Result<Option<Posted>, LedgerError> {
    let row = sqlx::query!(
        "SELECT id, body_hash, posted_at FROM journal_transactions
         WHERE town_id = $1 AND idempotency_key = $2",
        p.town.as_uuid(),
        p.idempotency_key,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) if r.body_hash == body => Ok(Some(Posted {
            id: TransactionId::from_uuid(r.id),
            posted_at: r.posted_at,
            replayed: true,
        })),
        Some(_) => Err(LedgerError::IdempotencyConflict(p.idempotency_key.clone())),
    }
}

async fn apply(conn: &mut PgConnection, p: &Posting, body: &[u8]) -> Result<Posted, LedgerError> {
    // Net change per account, in ascending id order: the lock order.
    let mut net: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for e in &p.entries {
        *net.entry(e.account.as_uuid()).or_default() += e.amount;
    }
    let ids: Vec<Uuid> = net.keys().copied().collect();
    let accounts = describe(conn, p.town, &ids).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !accounts.iter().any(|a| a.id.as_uuid() == **id))
    {
        return Err(LedgerError::UnknownAccount(AccountId::from_uuid(*missing)));
    }
    if accounts.iter().any(|a| a.currency != accounts[0].currency) {
        return Err(LedgerError::Invalid(
            "all entries must be in one currency".into(),
        ));
    }
    let deltas: Vec<Decimal> = ids.iter().map(|id| net[id]).collect();
    let shards: Vec<i16> = accounts.iter().map(|a| a.shards).collect();
    let guarded: Vec<bool> = accounts.iter().map(|a| a.non_negative).collect();

    let id = TransactionId::new();
    let now = Utc::now();
    let posted_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    // The lane is picked in the database, so the hash is finished there too.
    let (head, tail) = p.chain_parts(id, posted_at);
    let accts: Vec<Uuid> = p.entries.iter().map(|e| e.account.as_uuid()).collect();
    let amounts: Vec<Decimal> = p.entries.iter().map(|e| e.amount).collect();
    // Balances, lane, journal row, entries and the lane's new head in one round trip.
    let refused = sqlx::query_scalar!(
        r#"SELECT ledger_post($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                              $12, $13, $14, $15, $16, $17) AS "refused""#,
        id.as_uuid(),
        p.town.as_uuid(),
        p.idempotency_key,
        body,
        p.kind.as_str(),
        p.memo,
        p.reverses.map(|t| t.as_uuid()),
        posted_at,
        head,
        tail,
        LANES,
        &accts,
        &amounts,
        &ids,
        &deltas,
        &shards,
        &guarded,
    )
    .fetch_one(&mut *conn)
    .await?;
    if let Some(account) = refused {
        return Err(LedgerError::InsufficientBalance(AccountId::from_uuid(
            account,
        )));
    }
    Ok(Posted {
        id,
        posted_at,
        replayed: false,
    })
}

/// Accounts never change once opened (nothing updates or deletes them), so what a
/// transaction read of them is kept for this process, per (town, account): the
/// read was made under that town's row-level security, so an account of another
/// town is never found here. One of a transaction that later rolled back could be:
/// the entry's foreign key (town, account) still refuses to post to it.
static KNOWN: LazyLock<Mutex<HashMap<(Uuid, Uuid), Account>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The accounts `ids` of `town`, in `ids` order (ascending); missing ones are left out.
pub(crate) async fn describe(
    conn: &mut PgConnection,
    town: TownId,
    ids: &[Uuid],
) -> Result<Vec<Account>, LedgerError> {
    let key = |id: &Uuid| (town.as_uuid(), *id);
    if let Ok(known) = KNOWN.lock()
        && let Some(found) = ids
            .iter()
            .map(|id| known.get(&key(id)).cloned())
            .collect::<Option<Vec<Account>>>()
    {
        return Ok(found);
    }
    let accounts: Vec<Account> = sqlx::query!(
        "SELECT id, kind, currency, non_negative, shards
         FROM ledger_accounts WHERE town_id = $1 AND id = ANY($2) ORDER BY id",
        town.as_uuid(),
        ids,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Account {
        id: AccountId::from_uuid(r.id),
        kind: r.kind,
        currency: r.currency,
        non_negative: r.non_negative,
        shards: r.shards,
    })
    .collect();
    if let Ok(mut known) = KNOWN.lock() {
        if known.len() > 100_000 {
            known.clear();
        }
        for a in &accounts {
            known.insert(key(&a.id.as_uuid()), a.clone());
        }
    }
    Ok(accounts)
}

/// The entries of one transaction, in order (for reversals and statements).
pub async fn transaction_entries(
    conn: &mut PgConnection,
    town: TownId,
    id: TransactionId,
) -> Result<Vec<Entry>, LedgerError> {
    let rows = sqlx::query!(
        "SELECT account_id, amount FROM journal_entries
         WHERE town_id = $1 AND transaction_id = $2 ORDER BY idx",
        town.as_uuid(),
        id.as_uuid(),
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            account: AccountId::from_uuid(r.account_id),
            amount: r.amount,
        })
        .collect())
}
