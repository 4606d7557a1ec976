//! A data generator for tests and the benchmark: promotions, merchants, a card, and
//! redemptions posted to the ledger exactly as docs/ledger.md describes, with
//! matching `redemptions` rows. Single events use `ledger::post` and
//! `booking_period`; a whole month uses `ledger::post_bulk`.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{AccountId, Money, Percent, TownId, TransactionId};
use ledger::{AccountKind, Entry, LedgerError, NewAccount, Posting, PostingKind};
use rand::Rng;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Promotion {
    pub id: Uuid,
    pub percent: Percent,
    pub budget: AccountId,
}

#[derive(Clone, Debug)]
pub struct Merchant {
    pub id: Uuid,
    pub receivable: AccountId,
    pub own: AccountId,
}

#[derive(Clone, Debug)]
pub struct Fixture {
    pub town: TownId,
    pub promotions: Vec<Promotion>,
    pub merchants: Vec<Merchant>,
    pub card: Uuid,
    pub discounts_granted: AccountId,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

async fn account(
    c: &mut PgConnection,
    town: TownId,
    kind: AccountKind,
    owner: Option<Uuid>,
    name: &str,
) -> Result<AccountId, GenError> {
    Ok(ledger::ensure_account(
        c,
        &NewAccount {
            town,
            kind,
            owner,
            name: name.to_owned(),
        },
    )
    .await?)
}

/// Adds promotions (with `percent` co-financing and a funded budget each), accounts
/// for the given existing merchants, and one card.
pub async fn setup(
    c: &mut PgConnection,
    town: TownId,
    merchants: &[Uuid],
    percents: &[Percent],
    budget: Decimal,
) -> Result<Fixture, GenError> {
    let funding = account(
        c,
        town,
        AccountKind::MunicipalityFunding,
        None,
        "Municipality funding",
    )
    .await?;
    let discounts_granted = account(
        c,
        town,
        AccountKind::DiscountsGranted,
        None,
        "Discounts granted",
    )
    .await?;
    let mut promotions = Vec::new();
    for (i, pct) in percents.iter().enumerate() {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO promotions (id, town_id, name, co_financing_percent, starts_on, ends_on)
             VALUES ($1, $2, $3, $4, '2026-01-01', '2027-12-31')",
        )
        .bind(id)
        .bind(town.as_uuid())
        .bind(format!("Promotion {}", i + 1))
        .bind(pct.value())
        .execute(&mut *c)
        .await?;
        let acct = account(
            c,
            town,
            AccountKind::PromotionBudget,
            Some(id),
            &format!("Budget {}", i + 1),
        )
        .await?;
        ledger::post(
            c,
            &Posting {
                town,
                idempotency_key: format!("gen:fund:{id}"),
                kind: PostingKind::BudgetFunding,
                memo: "budget".into(),
                reverses: None,
                entries: vec![
                    Entry {
                        account: funding,
                        amount: -budget,
                    },
                    Entry {
                        account: acct,
                        amount: budget,
                    },
                ],
            },
        )
        .await?;
        promotions.push(Promotion {
            id,
            percent: *pct,
            budget: acct,
        });
    }
    let mut ms = Vec::new();
    for m in merchants {
        ms.push(Merchant {
            id: *m,
            receivable: account(
                c,
                town,
                AccountKind::MerchantReceivable,
                Some(*m),
                "Receivable",
            )
            .await?,
            own: account(
                c,
                town,
                AccountKind::MerchantOwnDiscount,
                Some(*m),
                "Own discount",
            )
            .await?,
        });
    }
    let product = Uuid::now_v7();
    sqlx::query("INSERT INTO card_products (id, town_id, code, names, kind) VALUES ($1, $2, 'gen', '{\"en\":\"Gen\"}', 'annual')")
        .bind(product)
        .bind(town.as_uuid())
        .execute(&mut *c)
        .await?;
    let card = Uuid::now_v7();
    let code: i16 = sqlx::query_scalar("SELECT code FROM towns WHERE id = $1")
        .bind(town.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    let serial: u32 = rand::thread_rng().gen_range(0..99_999_999);
    let number = kernel::CardNumber::new(code as u16, serial)
        .map(|n| n.digits())
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO cards (id, town_id, product_id, serial, number, page_code) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(card)
    .bind(town.as_uuid())
    .bind(product)
    .bind(serial as i32)
    .bind(number)
    .bind(card.simple().to_string())
    .execute(&mut *c)
    .await?;
    Ok(Fixture {
        town,
        promotions,
        merchants: ms,
        card,
        discounts_granted,
    })
}

pub(crate) fn entries(
    fx: &Fixture,
    p: &Promotion,
    m: &Merchant,
    muni: Decimal,
    own: Decimal,
) -> Vec<Entry> {
    let mut v = Vec::new();
    if !muni.is_zero() {
        v.push(Entry {
            account: p.budget,
            amount: -muni,
        });
        v.push(Entry {
            account: m.receivable,
            amount: muni,
        });
    }
    if !own.is_zero() {
        v.push(Entry {
            account: m.own,
            amount: own,
        });
        v.push(Entry {
            account: fx.discounts_granted,
            amount: -own,
        });
    }
    v
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub id: Uuid,
    pub journal_tx: TransactionId,
    pub period: NaiveDate,
    pub adjustment: bool,
}

/// One sale at a counter: indexes into the fixture's merchants and promotions.
#[derive(Clone, Copy, Debug)]
pub struct Sale<'a> {
    pub merchant: usize,
    pub promotion: usize,
    pub receipt: &'a str,
    pub at: DateTime<Utc>,
    pub basket: Decimal,
    pub discount: Decimal,
}

/// Records one redemption at `at` (booked into its open period), like the counter does.
pub async fn redeem(
    c: &mut PgConnection,
    fx: &Fixture,
    sale: &Sale<'_>,
) -> Result<Recorded, GenError> {
    let Sale {
        merchant,
        promotion,
        receipt,
        at,
        basket,
        discount,
    } = *sale;
    let (m, p) = (&fx.merchants[merchant], &fx.promotions[promotion]);
    let (muni, own) = Money::round(discount).split(p.percent);
    let (muni, own) = (muni.amount(), own.amount());
    let (period, natural): (NaiveDate, NaiveDate) =
        sqlx::query_as("SELECT booking_period($1, $2), natural_period($1, $2)")
            .bind(fx.town.as_uuid())
            .bind(at)
            .fetch_one(&mut *c)
            .await?;
    let posted = ledger::post(
        c,
        &Posting {
            town: fx.town,
            idempotency_key: format!("gen:redeem:{receipt}"),
            kind: PostingKind::Redemption,
            memo: format!("receipt {receipt}"),
            reverses: None,
            entries: entries(fx, p, m, muni, own),
        },
    )
    .await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, receipt_number, idempotency_key,
             basket, discount, municipality_share, merchant_share, points_earned, occurred_at, period, adjustment, journal_tx)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(fx.town.as_uuid())
    .bind(m.id)
    .bind(p.id)
    .bind(fx.card)
    .bind(receipt)
    .bind(basket)
    .bind(discount)
    .bind(muni)
    .bind(own)
    .bind(at)
    .bind(period)
    .bind(period != natural)
    .bind(posted.id.as_uuid())
    .execute(&mut *c)
    .await?;
    Ok(Recorded {
        id,
        journal_tx: posted.id,
        period,
        adjustment: period != natural,
    })
}

/// Voids a redemption at `at`: its entries negated, booked into the open period.
pub async fn void(
    c: &mut PgConnection,
    fx: &Fixture,
    redemption: &Recorded,
    at: DateTime<Utc>,
) -> Result<Recorded, GenError> {
    let (basket, discount, muni, own, redeemed_period): (Decimal, Decimal, Decimal, Decimal, NaiveDate) = sqlx::query_as(
        "SELECT basket, discount, municipality_share, merchant_share, period FROM redemptions WHERE id = $1",
    )
    .bind(redemption.id)
    .fetch_one(&mut *c)
    .await?;
    let period: NaiveDate = sqlx::query_scalar("SELECT booking_period($1, $2)")
        .bind(fx.town.as_uuid())
        .bind(at)
        .fetch_one(&mut *c)
        .await?;
    let original = ledger::transaction_entries(c, fx.town, redemption.journal_tx).await?;
    let posted = ledger::post(
        c,
        &Posting {
            town: fx.town,
            idempotency_key: format!("gen:void:{}", redemption.id),
            kind: PostingKind::Void,
            memo: "void".into(),
            reverses: Some(redemption.journal_tx),
            entries: original
                .into_iter()
                .map(|e| Entry {
                    account: e.account,
                    amount: -e.amount,
                })
                .collect(),
        },
    )
    .await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO redemption_reversals (id, town_id, redemption_id, kind, idempotency_key, basket_refunded,
             discount_reversed, municipality_reversed, merchant_reversed, occurred_at, period, adjustment, journal_tx)
         VALUES ($1, $2, $3, 'void', $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(fx.town.as_uuid())
    .bind(redemption.id)
    .bind(format!("void:{}", redemption.id))
    .bind(basket)
    .bind(discount)
    .bind(muni)
    .bind(own)
    .bind(at)
    .bind(period)
    .bind(period != redeemed_period)
    .bind(posted.id.as_uuid())
    .execute(&mut *c)
    .await?;
    Ok(Recorded {
        id,
        journal_tx: posted.id,
        period,
        adjustment: period != redeemed_period,
    })
}
