//! Bulk generation for the benchmark: a month of redemptions per transaction batch,
//! posted with `ledger::post_bulk`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kernel::Money;
use ledger::{Posting, PostingKind};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::generate::{Fixture, GenError, entries};

struct Row {
    id: Uuid,
    merchant: Uuid,
    promotion: Uuid,
    receipt: String,
    basket: Decimal,
    discount: Decimal,
    municipality: Decimal,
    own: Decimal,
    at: DateTime<Utc>,
}

/// Fills `month` (open, in the past) with `count` redemptions spread over the
/// fixture's merchants and promotions, in batches of `batch` per transaction.
/// Deterministic for a given seed. `c` must be a transaction with the town set.
pub async fn bulk_batch(
    c: &mut PgConnection,
    fx: &Fixture,
    month: NaiveDate,
    start: u64,
    count: u64,
    seed: u64,
) -> Result<(), GenError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ start);
    let days = crate::domain::month::days(month) as i64;
    let base = month.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    sqlx::query("SELECT status FROM settlement_periods WHERE month = $1 FOR SHARE")
        .bind(month)
        .execute(&mut *c)
        .await?;
    let mut postings = Vec::with_capacity(count as usize);
    let mut rows: Vec<Row> = Vec::with_capacity(count as usize);
    for i in start..start + count {
        let m = &fx.merchants[(i % fx.merchants.len() as u64) as usize];
        let p = &fx.promotions[rng.gen_range(0..fx.promotions.len())];
        let basket = Decimal::new(rng.gen_range(500..20_000), 2);
        let discount = Money::round(basket / Decimal::TEN).amount();
        let (muni, own) = Money::round(discount).split(p.percent);
        let (muni, own) = (muni.amount(), own.amount());
        // Spread over the month, kept inside it in any time zone offset up to ±1 day.
        let secs = rng.gen_range(86_400..(days - 1) * 86_400);
        let at = base + Duration::seconds(secs);
        let receipt = format!("B{i:08}");
        postings.push(Posting {
            town: fx.town,
            idempotency_key: format!("gen:redeem:{receipt}"),
            kind: PostingKind::Redemption,
            memo: format!("receipt {receipt}"),
            reverses: None,
            entries: entries(fx, p, m, muni, own),
        });
        rows.push(Row {
            id: Uuid::now_v7(),
            merchant: m.id,
            promotion: p.id,
            receipt,
            basket,
            discount,
            municipality: muni,
            own,
            at,
        });
    }
    let txs = ledger::post_bulk(c, fx.town, &postings).await?;
    sqlx::query(
        "INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, receipt_number, idempotency_key,
             basket, discount, municipality_share, merchant_share, occurred_at, period, journal_tx)
         SELECT id, $1, m, p, $2, r, r, b, d, mu, o, at, $3, tx
         FROM UNNEST($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[],
                     $11::numeric[], $12::timestamptz[], $13::uuid[]) AS u(id, m, p, r, b, d, mu, o, at, tx)",
    )
    .bind(fx.town.as_uuid())
    .bind(fx.card)
    .bind(month)
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.merchant).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.promotion).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.receipt.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.basket).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.discount).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.municipality).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.own).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(txs.iter().map(|t| t.as_uuid()).collect::<Vec<_>>())
    .execute(&mut *c)
    .await?;
    Ok(())
}
