//! The period's redemptions as CSV: for Slovenian Excel (UTF-8 BOM, `;`, decimal
//! comma, Slovenian header) or plain RFC 4180 (`,`, decimal point, CRLF, English).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use futures::TryStreamExt;
use kernel::TownId;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{HashingFile, ReportFile, write_point};
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

/// Which rows a listing holds, and where its names come from.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    pub town: TownId,
    pub month: NaiveDate,
    /// Closed periods print the names frozen at close.
    pub closed: bool,
    /// Only this merchant's lines.
    pub merchant: Option<Uuid>,
}

/// Streams the listing into a file.
pub async fn write(
    conn: &mut PgConnection,
    l: Listing,
    dialect: Dialect,
    filename: String,
) -> Result<ReportFile, CsvError> {
    let mut files = write_many(conn, l, vec![(dialect, filename)]).await?;
    files
        .pop()
        .ok_or_else(|| CsvError::Io(std::io::Error::other("no file written")))
}

/// Streams the listing once into one file per dialect (the same bytes each would
/// have alone): a bulk export reads the month once, not once per dialect.
pub async fn write_many(
    conn: &mut PgConnection,
    l: Listing,
    outs: Vec<(Dialect, String)>,
) -> Result<Vec<ReportFile>, CsvError> {
    let frozen = l.closed.then_some(l.month);
    let t = totals::town(conn, l.town, frozen).await?;
    let tz: Tz = t.timezone.parse().unwrap_or(chrono_tz::Europe::Ljubljana);
    let names: HashMap<Uuid, String> = totals::merchants(conn, frozen)
        .await?
        .into_iter()
        .chain(totals::promotions(conn, frozen).await?)
        .map(|n| (n.id, n.name))
        .collect();
    let mut sinks = Vec::with_capacity(outs.len());
    for (dialect, filename) in outs {
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
        sinks.push((dialect, w, filename));
    }
    // Fields are formatted into buffers reused across rows: no allocation per row.
    let mut at = String::with_capacity(20);
    let mut amounts: [String; 4] = Default::default();
    let mut commas: [String; 4] = Default::default();
    let excel = sinks.iter().any(|(d, _, _)| *d == Dialect::Excel);
    let mut points = String::with_capacity(8);
    let none = String::new();
    let mut rows = totals::detail(conn, l.town, l.month, l.merchant);
    while let Some(r) = rows.try_next().await? {
        at.clear();
        let local = r.occurred_at.with_timezone(&tz).naive_local();
        let _ = write!(
            at,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second()
        );
        for (i, d) in [r.basket, r.discount, r.municipality, r.merchant_share]
            .into_iter()
            .enumerate()
        {
            let p = &mut amounts[i];
            p.clear();
            write_point(p, d);
            if excel {
                let c = &mut commas[i];
                c.clear();
                c.extend(p.chars().map(|ch| if ch == '.' { ',' } else { ch }));
            }
        }
        points.clear();
        let _ = write!(points, "{}", r.points);
        let merchant = names.get(&r.merchant_id).unwrap_or(&none);
        let promotion = names.get(&r.promotion_id).unwrap_or(&none);
        let adjustment = if r.adjustment { "1" } else { "0" };
        for (dialect, w, _) in &mut sinks {
            let shown = if *dialect == Dialect::Excel {
                &commas
            } else {
                &amounts
            };
            w.write_record([
                r.kind.as_str(),
                &at,
                &r.receipt_number,
                merchant,
                promotion,
                &shown[0],
                &shown[1],
                &shown[2],
                &shown[3],
                &points,
                adjustment,
            ])?;
        }
    }
    let mut files = Vec::with_capacity(sinks.len());
    for (_, w, filename) in sinks {
        let file = w
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        files.push(file.finish("text/csv; charset=utf-8", filename)?);
    }
    Ok(files)
}
