//! Accounts: one per (town, kind, owner). Their balances live in `ledger_balances` shards.

use kernel::{AccountId, TownId};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::LedgerError;

/// What an account is for; docs/ledger.md lists the postings that touch each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// The municipality's commitment to co-finance; goes negative as budgets are funded.
    MunicipalityFunding,
    /// A promotion's co-financing budget. Never below zero; hot: sharded.
    PromotionBudget,
    /// What the municipality owes a merchant for co-financed discounts.
    MerchantReceivable,
    /// Discounts a merchant funded itself (its share), for statements.
    MerchantOwnDiscount,
    /// Town-wide counterpart of merchants' own discounts.
    DiscountsGranted,
    /// Money paid out to merchants by bank transfer.
    Payouts,
    /// A card's points or stamps (currency PTS). Never below zero.
    CardPoints,
    /// Town-wide counterpart of points earned and spent (currency PTS).
    PointsIssued,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::MunicipalityFunding => "municipality_funding",
            AccountKind::PromotionBudget => "promotion_budget",
            AccountKind::MerchantReceivable => "merchant_receivable",
            AccountKind::MerchantOwnDiscount => "merchant_own_discount",
            AccountKind::DiscountsGranted => "discounts_granted",
            AccountKind::Payouts => "payouts",
            AccountKind::CardPoints => "card_points",
            AccountKind::PointsIssued => "points_issued",
        }
    }

    pub fn currency(self) -> &'static str {
        match self {
            AccountKind::CardPoints | AccountKind::PointsIssued => "PTS",
            _ => "EUR",
        }
    }

    /// The defaults each kind is opened with.
    pub fn non_negative(self) -> bool {
        matches!(self, AccountKind::PromotionBudget | AccountKind::CardPoints)
    }

    pub fn default_shards(self) -> i16 {
        match self {
            AccountKind::PromotionBudget | AccountKind::DiscountsGranted => 16,
            AccountKind::MerchantReceivable | AccountKind::MerchantOwnDiscount => 4,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewAccount {
    pub town: TownId,
    pub kind: AccountKind,
    pub owner: Option<Uuid>,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub kind: String,
    pub currency: String,
    pub non_negative: bool,
    pub shards: i16,
}

/// Returns the account for (town, kind, owner), opening it with its shards if new.
pub async fn ensure_account(
    conn: &mut PgConnection,
    acct: &NewAccount,
) -> Result<AccountId, LedgerError> {
    ensure_account_with_shards(conn, acct, acct.kind.default_shards()).await
}

/// As [`ensure_account`], with an explicit shard count (benchmarks, unusual accounts).
pub async fn ensure_account_with_shards(
    conn: &mut PgConnection,
    acct: &NewAccount,
    shards: i16,
) -> Result<AccountId, LedgerError> {
    if !(1..=64).contains(&shards) {
        return Err(LedgerError::Invalid("an account has 1 to 64 shards".into()));
    }
    if let Some(id) = find_account(conn, acct.town, acct.kind, acct.owner).await? {
        return Ok(id);
    }
    let id = AccountId::new();
    let kind = acct.kind;
    let inserted = sqlx::query_scalar!(
        "INSERT INTO ledger_accounts (id, town_id, kind, owner_id, name, currency, non_negative, shards)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT ON CONSTRAINT ledger_accounts_one_per_owner DO NOTHING
         RETURNING id",
        id.as_uuid(),
        acct.town.as_uuid(),
        kind.as_str(),
        acct.owner,
        acct.name,
        kind.currency(),
        kind.non_negative(),
        shards,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        // Opened concurrently by someone else: use theirs.
        return find_account(conn, acct.town, acct.kind, acct.owner)
            .await?
            .ok_or_else(|| LedgerError::Invalid("account vanished".into()));
    }
    sqlx::query!(
        "INSERT INTO ledger_balances (account_id, shard, town_id, balance, non_negative)
         SELECT $1, shard, $2, 0, $3 FROM generate_series(0, $4::smallint - 1) AS shard",
        id.as_uuid(),
        acct.town.as_uuid(),
        kind.non_negative(),
        shards,
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn find_account(
    conn: &mut PgConnection,
    town: TownId,
    kind: AccountKind,
    owner: Option<Uuid>,
) -> Result<Option<AccountId>, LedgerError> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM ledger_accounts
         WHERE town_id = $1 AND kind = $2 AND owner_id IS NOT DISTINCT FROM $3",
        town.as_uuid(),
        kind.as_str(),
        owner,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id.map(AccountId::from_uuid))
}

/// The stored balance: the sum of the account's shards.
pub async fn balance_of(
    conn: &mut PgConnection,
    account: AccountId,
) -> Result<Decimal, LedgerError> {
    let b = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(balance), 0) AS "balance!" FROM ledger_balances WHERE account_id = $1"#,
        account.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(b)
}
