//! A period's amounts per merchant, promotion and local day, from the journal.
//!
//! Open periods are computed live; at close the same query is copied into
//! `period_totals`, and every report of a closed period reads that copy.

use chrono::{DateTime, NaiveDate, Utc};
use futures::Stream;
use kernel::TownId;
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::reports::cents::Cents;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TotalRow {
    pub merchant_id: Uuid,
    pub promotion_id: Uuid,
    pub day: NaiveDate,
    pub redemptions: i64,
    pub reversals: i64,
    pub basket: Decimal,
    pub discount: Decimal,
    pub municipality: Decimal,
    pub merchant_share: Decimal,
    pub points: i64,
    pub adjustments: Decimal,
}

/// The period's rows (redemptions and reversals booked into it) with the amounts of
/// their journal transactions on the merchant's accounts. $1 town, $2 month.
/// A late event (its local day outside the month) counts on the month's first day.
const LIVE: &str = "
WITH t AS (SELECT timezone FROM towns WHERE id = $1),
x AS (
    SELECT r.merchant_id, r.promotion_id, r.occurred_at, r.journal_tx, 1 AS redemptions,
           0 AS reversals, r.basket, r.points_earned::bigint AS points, r.adjustment
    FROM redemptions r WHERE r.town_id = $1 AND r.period = $2
    UNION ALL
    SELECT r.merchant_id, r.promotion_id, v.occurred_at, v.journal_tx, 0, 1, 0, 0, v.adjustment
    FROM redemption_reversals v JOIN redemptions r ON r.id = v.redemption_id
    WHERE v.town_id = $1 AND v.period = $2
    UNION ALL
    SELECT j.merchant_id, j.promotion_id, j.occurred_at, j.journal_tx, 0, 0, 0, 0, true
    FROM settlement_adjustments j WHERE j.town_id = $1 AND j.period = $2
), d AS (
    SELECT x.*, least(greatest((x.occurred_at AT TIME ZONE t.timezone)::date, $2::date),
                      ($2::date + interval '1 month' - interval '1 day')::date) AS day
    FROM x CROSS JOIN t
), c AS (
    SELECT merchant_id, promotion_id, day, sum(redemptions) AS redemptions, sum(reversals) AS reversals,
           sum(basket) AS basket, sum(points) AS points
    FROM d GROUP BY 1, 2, 3
), m AS (
    SELECT d.merchant_id, d.promotion_id, d.day,
           sum(e.amount) FILTER (WHERE a.kind = 'merchant_receivable') AS muni,
           sum(e.amount) FILTER (WHERE a.kind = 'merchant_own_discount') AS own,
           sum(e.amount) FILTER (WHERE a.kind = 'merchant_receivable' AND d.adjustment) AS adj
    FROM d JOIN journal_entries e ON e.transaction_id = d.journal_tx
    JOIN ledger_accounts a ON a.id = e.account_id
    WHERE e.town_id = $1 AND a.kind IN ('merchant_receivable', 'merchant_own_discount')
      -- Implied by the join; transaction ids are time-ordered (UUIDv7), so this
      -- bounds the read to the period's stretch of the journal, not all history.
      AND e.transaction_id >= (SELECT journal_tx FROM d ORDER BY 1 LIMIT 1)
      AND e.transaction_id <= (SELECT journal_tx FROM d ORDER BY 1 DESC LIMIT 1)
    GROUP BY 1, 2, 3
)
SELECT c.merchant_id, c.promotion_id, c.day,
       c.redemptions::bigint AS redemptions, c.reversals::bigint AS reversals,
       c.basket::numeric(18,2) AS basket,
       (coalesce(m.muni, 0) + coalesce(m.own, 0))::numeric(18,2) AS discount,
       coalesce(m.muni, 0)::numeric(18,2) AS municipality,
       coalesce(m.own, 0)::numeric(18,2) AS merchant_share,
       c.points::bigint AS points,
       coalesce(m.adj, 0)::numeric(18,2) AS adjustments
FROM c LEFT JOIN m USING (merchant_id, promotion_id, day)";

const COLUMNS: &str = "merchant_id, promotion_id, day, redemptions, reversals, basket, discount, \
                       municipality, merchant_share, points, adjustments";

/// Live totals of an open period.
pub async fn live(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
) -> sqlx::Result<Vec<TotalRow>> {
    sqlx::query_as::<_, TotalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM ({LIVE}) q ORDER BY 1, 2, 3"
    )))
    .bind(town.as_uuid())
    .bind(month)
    .fetch_all(&mut *conn)
    .await
}

/// The plan and timings of the close's aggregate for the period (the benchmark).
pub async fn explain_live(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        // Summing the journal's columns keeps the planner from dropping their join.
        "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*), sum(municipality), sum(merchant_share), \
         sum(adjustments) FROM ({LIVE}) q"
    )))
    .bind(town.as_uuid())
    .bind(month)
    .fetch_all(&mut *conn)
    .await
}

/// Freezes the period's totals (called at close, under the period row lock).
pub async fn freeze(conn: &mut PgConnection, town: TownId, month: NaiveDate) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO period_totals (town_id, month, {COLUMNS}) SELECT $1, $2, {COLUMNS} FROM ({LIVE}) q"
    )))
    .bind(town.as_uuid())
    .bind(month)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO period_budgets (town_id, month, promotion_id, budget_left)
         SELECT $1, $2, a.owner_id, sum(b.balance) FROM ledger_accounts a
         JOIN ledger_balances b ON b.account_id = a.id
         WHERE a.town_id = $1 AND a.kind = 'promotion_budget' AND a.owner_id IS NOT NULL
         GROUP BY a.owner_id",
    )
    .bind(town.as_uuid())
    .bind(month)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Frozen totals of a closed period.
pub async fn frozen(conn: &mut PgConnection, month: NaiveDate) -> sqlx::Result<Vec<TotalRow>> {
    sqlx::query_as::<_, TotalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM period_totals WHERE month = $1 ORDER BY 1, 2, 3"
    )))
    .bind(month)
    .fetch_all(&mut *conn)
    .await
}

/// Sums of the redemption rows' own columns (net of reversals) against the frozen
/// journal totals of the period; returns the merchants where they differ.
pub async fn mismatches(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "WITH rows AS (
             SELECT merchant_id, sum(municipality_share) AS m FROM redemptions
             WHERE town_id = $1 AND period = $2 GROUP BY 1
             UNION ALL
             SELECT r.merchant_id, -sum(v.municipality_reversed) FROM redemption_reversals v
             JOIN redemptions r ON r.id = v.redemption_id WHERE v.town_id = $1 AND v.period = $2 GROUP BY 1
             UNION ALL
             SELECT merchant_id, sum(municipality) FROM settlement_adjustments
             WHERE town_id = $1 AND period = $2 GROUP BY 1
         ), a AS (SELECT merchant_id, sum(m) AS m FROM rows GROUP BY 1),
         b AS (SELECT merchant_id, sum(municipality) AS m FROM period_totals
               WHERE town_id = $1 AND month = $2 GROUP BY 1)
         SELECT coalesce(a.merchant_id, b.merchant_id) FROM a FULL JOIN b USING (merchant_id)
         WHERE a.m IS DISTINCT FROM b.m ORDER BY 1",
    )
    .bind(town.as_uuid())
    .bind(month)
    .fetch_all(&mut *conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
    pub iban: Option<String>,
}

/// The town's merchants and promotions as a period's reports name them: as frozen
/// at close (`frozen` = the closed month), else as they are now.
pub async fn merchants(
    conn: &mut PgConnection,
    frozen: Option<NaiveDate>,
) -> sqlx::Result<Vec<Named>> {
    named(
        conn,
        frozen,
        "merchant",
        "SELECT id, name, iban FROM merchants ORDER BY name, id",
    )
    .await
}

pub async fn promotions(
    conn: &mut PgConnection,
    frozen: Option<NaiveDate>,
) -> sqlx::Result<Vec<Named>> {
    named(
        conn,
        frozen,
        "promotion",
        "SELECT id, name, NULL::text AS iban FROM promotions ORDER BY name, id",
    )
    .await
}

async fn named(
    conn: &mut PgConnection,
    frozen: Option<NaiveDate>,
    kind: &str,
    live: &'static str,
) -> sqlx::Result<Vec<Named>> {
    if let Some(month) = frozen {
        let rows = sqlx::query_as::<_, Named>(
            "SELECT party_id AS id, name, iban FROM period_names WHERE month = $1 AND kind = $2
             ORDER BY name, id",
        )
        .bind(month)
        .bind(kind)
        .fetch_all(&mut *conn)
        .await?;
        // Periods closed before names were frozen have none: they print today's.
        if !rows.is_empty() {
            return Ok(rows);
        }
    }
    sqlx::query_as::<_, Named>(live).fetch_all(&mut *conn).await
}

/// Copies the names and bank details the period's reports print (called at close).
pub async fn freeze_names(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO period_names (town_id, month, kind, party_id, name, iban, bic, timezone)
         SELECT $1, $2, 'town', id, name, iban, bic, timezone FROM towns WHERE id = $1
         UNION ALL
         SELECT $1, $2, 'merchant', id, name, iban, NULL, NULL FROM merchants WHERE town_id = $1
         UNION ALL
         SELECT $1, $2, 'promotion', id, name, NULL, NULL, NULL FROM promotions WHERE town_id = $1",
    )
    .bind(town.as_uuid())
    .bind(month)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Budget left per promotion: as frozen at close, or the current balance.
pub async fn budgets(
    conn: &mut PgConnection,
    month: NaiveDate,
    closed: bool,
) -> sqlx::Result<Vec<(Uuid, Decimal)>> {
    let sql = if closed {
        "SELECT promotion_id, budget_left FROM period_budgets WHERE month = $1"
    } else {
        "SELECT a.owner_id, sum(b.balance)::numeric(18,2) FROM ledger_accounts a
         JOIN ledger_balances b ON b.account_id = a.id
         WHERE a.kind = 'promotion_budget' AND a.owner_id IS NOT NULL AND $1::date IS NOT NULL
         GROUP BY a.owner_id"
    };
    sqlx::query_as(sql).bind(month).fetch_all(&mut *conn).await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Town {
    pub name: String,
    pub slug: String,
    pub iban: String,
    pub bic: Option<String>,
    pub timezone: String,
}

/// The town as a period's reports print it: frozen at close (`frozen` = the closed
/// month) or as it is now.
pub async fn town(
    conn: &mut PgConnection,
    town: TownId,
    frozen: Option<NaiveDate>,
) -> sqlx::Result<Town> {
    sqlx::query_as::<_, Town>(
        "SELECT coalesce(n.name, t.name) AS name, t.slug, coalesce(n.iban, t.iban) AS iban,
                CASE WHEN n.party_id IS NULL THEN t.bic ELSE n.bic END AS bic,
                coalesce(n.timezone, t.timezone) AS timezone
         FROM towns t
         LEFT JOIN period_names n ON n.town_id = t.id AND n.month = $2 AND n.kind = 'town'
         WHERE t.id = $1",
    )
    .bind(town.as_uuid())
    .bind(frozen)
    .fetch_one(&mut *conn)
    .await
}

/// One line of the detail listing: a redemption, a reversal with negative amounts, or
/// a reconciliation adjustment. Borrows the row's text; read by column position,
/// amounts as cents (a month is a million rows, see `reports::csv`).
#[derive(Clone, Debug)]
pub struct DetailRef<'r> {
    pub kind: &'r str,
    pub occurred_at: DateTime<Utc>,
    pub receipt_number: &'r str,
    pub merchant_id: Uuid,
    pub promotion_id: Uuid,
    pub basket: Cents,
    pub discount: Cents,
    pub municipality: Cents,
    pub merchant_share: Cents,
    pub points: i32,
    pub adjustment: bool,
}

impl<'r> DetailRef<'r> {
    /// The columns of [`detail`]'s query, in its order.
    pub fn from_row(row: &'r PgRow) -> sqlx::Result<DetailRef<'r>> {
        Ok(DetailRef {
            kind: row.try_get(0)?,
            occurred_at: row.try_get(1)?,
            receipt_number: row.try_get(2)?,
            merchant_id: row.try_get(3)?,
            promotion_id: row.try_get(4)?,
            basket: row.try_get(5)?,
            discount: row.try_get(6)?,
            municipality: row.try_get(7)?,
            merchant_share: row.try_get(8)?,
            points: row.try_get(9)?,
            adjustment: row.try_get(10)?,
        })
    }
}

/// Streams the period's redemptions in time order, then its reversals, then its
/// reconciliation adjustments (amounts = the change they made); optionally
/// only one merchant's. Index scans: no sort of the month in memory.
pub fn detail<'c>(
    conn: &'c mut PgConnection,
    town: TownId,
    month: NaiveDate,
    merchant: Option<Uuid>,
) -> impl Stream<Item = sqlx::Result<PgRow>> + 'c {
    sqlx::query(
        "(SELECT 'redemption' AS kind, occurred_at, receipt_number, merchant_id, promotion_id, basket,
                 discount, municipality_share AS municipality, merchant_share, points_earned AS points,
                 adjustment, 0 AS part, id
          FROM redemptions WHERE town_id = $1 AND period = $2 AND ($3::uuid IS NULL OR merchant_id = $3)
          ORDER BY occurred_at, id)
         UNION ALL
         (SELECT v.kind, v.occurred_at, r.receipt_number, r.merchant_id, r.promotion_id, -v.basket_refunded,
                 -v.discount_reversed, -v.municipality_reversed, -v.merchant_reversed, 0, v.adjustment, 1, v.id
          FROM redemption_reversals v JOIN redemptions r ON r.id = v.redemption_id
          WHERE v.town_id = $1 AND v.period = $2 AND ($3::uuid IS NULL OR r.merchant_id = $3)
          ORDER BY v.occurred_at, v.id)
         UNION ALL
         (SELECT 'adjustment', j.occurred_at, j.receipt_number, j.merchant_id, j.promotion_id, 0,
                 j.municipality + j.merchant_share, j.municipality, j.merchant_share, 0, true, 2, j.id
          FROM settlement_adjustments j
          WHERE j.town_id = $1 AND j.period = $2 AND ($3::uuid IS NULL OR j.merchant_id = $3)
          ORDER BY j.occurred_at, j.id)",
    )
    .bind(town.as_uuid())
    .bind(month)
    .bind(merchant)
    .fetch(conn)
}
