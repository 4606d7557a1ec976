//! The ledger audit: hash chains, zero-sum transactions, stored balances.
//!
//! Streams the journal lane by lane, so memory stays flat however long it is.
//! Runs as the owner role (it must see every town) or inside one town's transaction.

use std::collections::HashMap;

use futures::TryStreamExt;
use kernel::TownId;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::LedgerError;
use crate::hash::{self, Chained, GENESIS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFinding {
    pub town: Uuid,
    /// Names the first broken row: transaction id, lane and sequence, or account.
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    pub transactions: u64,
    pub accounts: u64,
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Audits every town.
pub async fn audit(conn: &mut PgConnection) -> Result<AuditReport, LedgerError> {
    run(conn, None).await
}

/// Audits one town.
pub async fn audit_town(conn: &mut PgConnection, town: TownId) -> Result<AuditReport, LedgerError> {
    run(conn, Some(town.as_uuid())).await
}

const MAX_FINDINGS: usize = 100;

async fn run(conn: &mut PgConnection, town: Option<Uuid>) -> Result<AuditReport, LedgerError> {
    let mut report = AuditReport::default();
    // (town, lane) -> (last seq, last hash)
    let mut heads: HashMap<(Uuid, i16), (i64, Vec<u8>)> = HashMap::new();
    {
        let mut rows = sqlx::query!(
            r#"SELECT t.id, t.town_id, t.lane, t.seq, t.idempotency_key, t.kind, t.memo,
                      t.reverses, t.posted_at, t.prev_hash, t.hash,
                      array_remove(array_agg(e.account_id ORDER BY e.idx), NULL) AS "accounts!: Vec<Uuid>",
                      array_remove(array_agg(e.amount ORDER BY e.idx), NULL) AS "amounts!: Vec<Decimal>"
               FROM journal_transactions t
               LEFT JOIN journal_entries e ON e.transaction_id = t.id
               WHERE $1::uuid IS NULL OR t.town_id = $1
               GROUP BY t.id
               ORDER BY t.town_id, t.lane, t.seq"#,
            town,
        )
        .fetch(&mut *conn);
        while let Some(t) = rows.try_next().await? {
            report.transactions += 1;
            let (last_seq, last_hash) = heads
                .get(&(t.town_id, t.lane))
                .cloned()
                .unwrap_or((0, GENESIS.to_vec()));
            let at = format!("transaction {} (lane {}, seq {})", t.id, t.lane, t.seq);
            let mut problem = None;
            if t.seq != last_seq + 1 {
                problem = Some(format!("{at}: sequence gap, expected seq {}", last_seq + 1));
            } else if t.prev_hash != last_hash {
                problem = Some(format!("{at}: does not chain to the previous transaction"));
            } else if t.accounts.len() < 2 || t.accounts.len() != t.amounts.len() {
                problem = Some(format!("{at}: has {} entries", t.accounts.len()));
            } else if t.amounts.iter().sum::<Decimal>() != Decimal::ZERO {
                problem = Some(format!("{at}: entries do not sum to zero"));
            } else {
                let fields = Chained {
                    v: 1,
                    id: t.id,
                    town: t.town_id,
                    lane: t.lane,
                    seq: t.seq,
                    key: &t.idempotency_key,
                    kind: &t.kind,
                    memo: &t.memo,
                    reverses: t.reverses,
                    posted_at_us: t.posted_at.timestamp_micros(),
                    entries: t
                        .accounts
                        .iter()
                        .zip(&t.amounts)
                        .map(|(a, m)| (*a, hash::cents(*m)))
                        .collect(),
                };
                if hash::chain_hash(&t.prev_hash, &fields) != t.hash {
                    problem = Some(format!("{at}: hash mismatch, the row was altered"));
                }
            }
            if let Some(message) = problem {
                push(&mut report, t.town_id, message);
            }
            heads.insert((t.town_id, t.lane), (t.seq, t.hash));
        }
    }

    let lanes = sqlx::query!(
        "SELECT town_id, lane, seq, head_hash FROM journal_lanes
         WHERE $1::uuid IS NULL OR town_id = $1 ORDER BY town_id, lane",
        town,
    )
    .fetch_all(&mut *conn)
    .await?;
    for l in lanes {
        let (seq, hash) = heads
            .remove(&(l.town_id, l.lane))
            .unwrap_or((0, GENESIS.to_vec()));
        if seq != l.seq || hash != l.head_hash {
            let message = format!(
                "lane {}: head is at seq {} but the journal ends at seq {seq}; transactions are missing",
                l.lane, l.seq
            );
            push(&mut report, l.town_id, message);
        }
    }

    let accounts = sqlx::query!(
        r#"WITH b AS (SELECT account_id, sum(balance) AS s FROM ledger_balances GROUP BY account_id),
                e AS (SELECT account_id, sum(amount) AS s FROM journal_entries GROUP BY account_id)
           SELECT a.id, a.town_id, a.kind,
                  coalesce(b.s, 0) AS "stored!", coalesce(e.s, 0) AS "journal!"
           FROM ledger_accounts a
           LEFT JOIN b ON b.account_id = a.id
           LEFT JOIN e ON e.account_id = a.id
           WHERE $1::uuid IS NULL OR a.town_id = $1
           ORDER BY a.town_id, a.id"#,
        town,
    )
    .fetch_all(&mut *conn)
    .await?;
    for a in accounts {
        report.accounts += 1;
        if a.stored != a.journal {
            let message = format!(
                "account {} ({}): stored balance {} but its entries sum to {}",
                a.id, a.kind, a.stored, a.journal
            );
            push(&mut report, a.town_id, message);
        }
    }
    Ok(report)
}

fn push(report: &mut AuditReport, town: Uuid, message: String) {
    if report.findings.len() < MAX_FINDINGS {
        report.findings.push(AuditFinding { town, message });
    }
}
