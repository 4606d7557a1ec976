//! Statements: per merchant, per promotion and for the town, from a period's totals.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use kernel::TownId;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::periods::PeriodRow;
use crate::db::totals::{self, TotalRow, Town};

#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Amounts {
    pub redemptions: i64,
    pub reversals: i64,
    #[schema(value_type = String)]
    pub basket: Decimal,
    #[schema(value_type = String)]
    pub discount: Decimal,
    #[schema(value_type = String)]
    pub municipality: Decimal,
    #[schema(value_type = String)]
    pub merchant_share: Decimal,
    pub points: i64,
    #[schema(value_type = String)]
    pub adjustments: Decimal,
}

/// Two decimals, as every amount is shown: Postgres' `numeric` zero decodes
/// without its scale, and the API would print `0` beside `2.50`.
fn cents(mut d: Decimal) -> Decimal {
    d.rescale(2);
    d
}

impl Amounts {
    fn in_cents(mut self) -> Amounts {
        for d in [
            &mut self.basket,
            &mut self.discount,
            &mut self.municipality,
            &mut self.merchant_share,
            &mut self.adjustments,
        ] {
            *d = cents(*d);
        }
        self
    }

    fn add(&mut self, r: &TotalRow) {
        self.redemptions += r.redemptions;
        self.reversals += r.reversals;
        self.basket += r.basket;
        self.discount += r.discount;
        self.municipality += r.municipality;
        self.merchant_share += r.merchant_share;
        self.points += r.points;
        self.adjustments += r.adjustments;
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MerchantStatement {
    pub merchant_id: Uuid,
    pub name: String,
    pub iban: Option<String>,
    #[serde(flatten)]
    pub amounts: Amounts,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PromotionStatement {
    pub promotion_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub amounts: Amounts,
    /// The co-financed share booked in this period.
    #[schema(value_type = String)]
    pub budget_used: Decimal,
    /// What was left of the budget at close (now, for an open period).
    #[schema(value_type = String)]
    pub budget_left: Decimal,
    /// Budget used up to each day of the month, cumulative (index 0 = day 1).
    #[schema(value_type = Vec<String>)]
    pub burn: Vec<Decimal>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Summary {
    pub town: String,
    /// `YYYY-MM`.
    pub period: String,
    pub status: String,
    pub journal_digest: String,
    pub totals: Amounts,
    pub promotions: Vec<PromotionStatement>,
    pub merchants: Vec<MerchantStatement>,
    /// Town-wide budget used up to each day, cumulative.
    #[schema(value_type = Vec<String>)]
    pub burn: Vec<Decimal>,
    /// Per merchant and day (merchant statements list days, not receipts).
    #[serde(skip)]
    pub merchant_days: BTreeMap<Uuid, BTreeMap<NaiveDate, Amounts>>,
    #[serde(skip)]
    pub town_row: Option<Town>,
    #[serde(skip)]
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Loads the period's totals (frozen or live) and builds every statement.
pub async fn summary(
    conn: &mut PgConnection,
    town: TownId,
    period: &PeriodRow,
) -> sqlx::Result<Summary> {
    let closed = period.status != "open";
    let rows = if closed {
        totals::frozen(conn, period.month).await?
    } else {
        totals::live(conn, town, period.month).await?
    };
    let frozen = closed.then_some(period.month);
    let merchants = totals::merchants(conn, frozen).await?;
    let promotions = totals::promotions(conn, frozen).await?;
    let budgets: BTreeMap<Uuid, Decimal> = totals::budgets(conn, period.month, closed)
        .await?
        .into_iter()
        .collect();
    let t = totals::town(conn, town, frozen).await?;
    Ok(build(&t, period, &rows, &merchants, &promotions, &budgets))
}

pub fn build(
    town: &Town,
    period: &PeriodRow,
    rows: &[TotalRow],
    merchants: &[totals::Named],
    promotions: &[totals::Named],
    budgets: &BTreeMap<Uuid, Decimal>,
) -> Summary {
    let days = crate::domain::month::days(period.month) as usize;
    let mut per_m: BTreeMap<Uuid, Amounts> = BTreeMap::new();
    let mut per_p: BTreeMap<Uuid, (Amounts, Vec<Decimal>)> = BTreeMap::new();
    let mut merchant_days: BTreeMap<Uuid, BTreeMap<NaiveDate, Amounts>> = BTreeMap::new();
    let mut totals = Amounts::default();
    let mut burn = vec![Decimal::ZERO; days];
    for r in rows {
        totals.add(r);
        per_m.entry(r.merchant_id).or_default().add(r);
        merchant_days
            .entry(r.merchant_id)
            .or_default()
            .entry(r.day)
            .or_default()
            .add(r);
        let p = per_p
            .entry(r.promotion_id)
            .or_insert_with(|| (Amounts::default(), vec![Decimal::ZERO; days]));
        p.0.add(r);
        let d = (r.day.day0() as usize).min(days - 1);
        p.1[d] += r.municipality;
        burn[d] += r.municipality;
    }
    let cumulate = |v: &mut Vec<Decimal>| {
        let mut acc = Decimal::ZERO;
        for x in v.iter_mut() {
            acc += *x;
            *x = cents(acc);
        }
    };
    cumulate(&mut burn);
    let merchants_out = merchants
        .iter()
        .filter_map(|m| {
            per_m.remove(&m.id).map(|amounts| MerchantStatement {
                merchant_id: m.id,
                name: m.name.clone(),
                iban: m.iban.clone(),
                amounts: amounts.in_cents(),
            })
        })
        .collect();
    let promotions_out = promotions
        .iter()
        .filter_map(|p| {
            per_p.remove(&p.id).map(|(amounts, mut b)| {
                cumulate(&mut b);
                PromotionStatement {
                    promotion_id: p.id,
                    name: p.name.clone(),
                    budget_used: cents(amounts.municipality),
                    budget_left: cents(budgets.get(&p.id).copied().unwrap_or_default()),
                    amounts: amounts.in_cents(),
                    burn: b,
                }
            })
        })
        .collect();
    Summary {
        town: town.name.clone(),
        period: crate::domain::month::label(period.month),
        status: period.status.clone(),
        journal_digest: period.journal_digest.clone(),
        totals: totals.in_cents(),
        promotions: promotions_out,
        merchants: merchants_out,
        burn,
        merchant_days,
        town_row: Some(town.clone()),
        closed_at: period.closed_at,
    }
}
