//! The period's redemptions as CSV: for Slovenian Excel (UTF-8 BOM, `;`, decimal
//! comma, Slovenian header) or plain RFC 4180 (`,`, decimal point, CRLF, English).

use std::collections::HashMap;
use std::io::Write;

use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::TryStreamExt;
use kernel::TownId;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{HashingFile, ReportFile, comma, point};
use crate::db::totals;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Excel,
    Rfc4180,
}

const HEADER_SL: [&str; 11] = [
    "Vrsta",
    "Čas",
    "Račun",
    "Trgovec",
    "Promocija",
    "Košarica",
    "Popust",
    "Delež občine",
    "Delež trgovca",
    "Točke",
    "Popravek",
];
const HEADER_EN: [&str; 11] = [
    "kind",
    "occurred_at",
    "receipt_number",
    "merchant",
    "promotion",
    "basket",
    "discount",
    "municipality_share",
    "merchant_share",
    "points",
    "adjustment",
];

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
}

/// Streams the listing into a file; `merchant` limits it to one merchant's lines.
pub async fn write(
    conn: &mut PgConnection,
    town: TownId,
    month: NaiveDate,
    merchant: Option<Uuid>,
    dialect: Dialect,
    filename: String,
) -> Result<ReportFile, CsvError> {
    let t = totals::town(conn, town).await?;
    let tz: Tz = t.timezone.parse().unwrap_or(chrono_tz::Europe::Ljubljana);
    let names: HashMap<Uuid, String> = totals::merchants(conn)
        .await?
        .into_iter()
        .chain(totals::promotions(conn).await?)
        .map(|n| (n.id, n.name))
        .collect();
    let mut file = HashingFile::create()?;
    if dialect == Dialect::Excel {
        file.write_all(b"\xEF\xBB\xBF")?;
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(if dialect == Dialect::Excel {
            b';'
        } else {
            b','
        })
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    w.write_record(if dialect == Dialect::Excel {
        HEADER_SL
    } else {
        HEADER_EN
    })?;
    let amount = |d| {
        if dialect == Dialect::Excel {
            comma(d)
        } else {
            point(d)
        }
    };
    let mut rows = totals::detail(conn, town, month, merchant);
    while let Some(r) = rows.try_next().await? {
        let at = r
            .occurred_at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let none = String::new();
        w.write_record([
            r.kind.as_str(),
            &at,
            &r.receipt_number,
            names.get(&r.merchant_id).unwrap_or(&none),
            names.get(&r.promotion_id).unwrap_or(&none),
            &amount(r.basket),
            &amount(r.discount),
            &amount(r.municipality),
            &amount(r.merchant_share),
            &r.points.to_string(),
            if r.adjustment { "1" } else { "0" },
        ])?;
    }
    let file = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(file.finish("text/csv; charset=utf-8", filename)?)
}
