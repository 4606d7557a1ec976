//! The towncard ledger: the only code that writes the journal and balances.
//!
//! - [`post`] commits a balanced set of entries atomically and idempotently;
//! - balances live in shards so a hot account is not one contended row;
//! - each town's journal is hash-chained in lanes, and [`audit`] verifies it all.
//!
//! Every function takes the caller's connection (usually inside the caller's
//! transaction, with the town set for row-level security).

mod account;
mod audit;
mod bulk;
mod error;
mod hash;
mod posting;

pub use account::{
    Account, AccountKind, NewAccount, balance_of, ensure_account, ensure_account_with_shards,
    find_account,
};
pub use audit::{AuditFinding, AuditReport, audit, audit_town};
pub use bulk::{lane_heads_digest, post_bulk};
pub use error::LedgerError;
pub use posting::{Entry, Posted, Posting, PostingKind, post, post_owned_key, transaction_entries};

/// Hash-chain lanes per town: postings take any free lane, so the chain head
/// never serializes a town's redemptions. Changing it only affects new towns.
pub const LANES: i16 = 16;

/// Ensures the town's journal lanes exist (`ledger_init_town()`). Idempotent; a
/// town's first posting also creates them.
pub async fn init_town(
    conn: &mut sqlx::PgConnection,
    town: kernel::TownId,
) -> Result<(), LedgerError> {
    sqlx::query!(
        "SELECT FROM ledger_init_town($1, $2)",
        town.as_uuid(),
        LANES,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
