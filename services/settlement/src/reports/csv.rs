//! The period's redemptions as CSV: for Slovenian Excel (UTF-8 BOM, `;`, decimal
//! comma, Slovenian header) or plain RFC 4180 (`,`, decimal point, CRLF, English).

use std::collections::HashMap;
use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use futures::TryStreamExt;
use kernel::TownId;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{HashingFile, ReportFile};
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
///
/// Rows are decoded by position (amounts as integer cents) and written as bytes by
/// hand, quoting as the `csv` crate does (a field holding the delimiter, `"`, CR or
/// LF is quoted, quotes doubled): with a million rows a month, the generic path
/// (a lookup per column name, `Decimal`, a `String` per text field) was most of the
/// time.
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
        let mut line = Vec::with_capacity(256);
        if dialect == Dialect::Excel {
            line.extend_from_slice(b"\xEF\xBB\xBF");
        }
        let header = if dialect == Dialect::Excel {
            HEADER_SL
        } else {
            HEADER_EN
        };
        for (i, h) in header.iter().enumerate() {
            if i > 0 {
                line.push(dialect.delimiter());
            }
            field(&mut line, h.as_bytes(), dialect.delimiter());
        }
        line.extend_from_slice(b"\r\n");
        file.write_all(&line)?;
        sinks.push((dialect, file, filename, line));
    }
    let none = String::new();
    let mut at = [0u8; 19];
    let mut rows = totals::detail(conn, l.town, l.month, l.merchant);
    while let Some(row) = rows.try_next().await? {
        let r = totals::DetailRef::from_row(&row)?;
        local_time(&mut at, r.occurred_at.with_timezone(&tz).naive_local());
        let merchant = names.get(&r.merchant_id).unwrap_or(&none);
        let promotion = names.get(&r.promotion_id).unwrap_or(&none);
        for (dialect, file, _, line) in &mut sinks {
            let (delim, sep) = (dialect.delimiter(), dialect.decimal());
            line.clear();
            line.extend_from_slice(r.kind.as_bytes());
            line.push(delim);
            line.extend_from_slice(&at);
            line.push(delim);
            field(line, r.receipt_number.as_bytes(), delim);
            line.push(delim);
            field(line, merchant.as_bytes(), delim);
            line.push(delim);
            field(line, promotion.as_bytes(), delim);
            for amount in [r.basket, r.discount, r.municipality, r.merchant_share] {
                line.push(delim);
                amount.write(line, sep);
            }
            line.push(delim);
            let _ = write!(line, "{}", r.points);
            line.push(delim);
            line.push(if r.adjustment { b'1' } else { b'0' });
            line.extend_from_slice(b"\r\n");
            file.write_all(line)?;
        }
    }
    let mut files = Vec::with_capacity(sinks.len());
    for (_, file, filename, _) in sinks {
        files.push(file.finish("text/csv; charset=utf-8", filename)?);
    }
    Ok(files)
}

impl Dialect {
    fn delimiter(self) -> u8 {
        match self {
            Dialect::Excel => b';',
            Dialect::Rfc4180 => b',',
        }
    }

    fn decimal(self) -> u8 {
        match self {
            Dialect::Excel => b',',
            Dialect::Rfc4180 => b'.',
        }
    }
}

/// One CSV field, quoted only when it must be (the `csv` crate's `Necessary`).
fn field(out: &mut Vec<u8>, value: &[u8], delimiter: u8) {
    if !value
        .iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\r' || b == b'\n')
    {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `YYYY-MM-DD HH:MM:SS`.
fn local_time(out: &mut [u8; 19], t: NaiveDateTime) {
    let two = |out: &mut [u8], v: u32| {
        out[0] = b'0' + (v / 10 % 10) as u8;
        out[1] = b'0' + (v % 10) as u8;
    };
    let y = t.year().clamp(0, 9999) as u32;
    two(&mut out[0..2], y / 100);
    two(&mut out[2..4], y % 100);
    out[4] = b'-';
    two(&mut out[5..7], t.month());
    out[7] = b'-';
    two(&mut out[8..10], t.day());
    out[10] = b' ';
    two(&mut out[11..13], t.hour());
    out[13] = b':';
    two(&mut out[14..16], t.minute());
    out[16] = b':';
    two(&mut out[17..19], t.second());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written rows quote exactly as the `csv` crate did.
    #[test]
    fn fields_are_quoted_as_the_csv_crate_quotes_them() {
        for value in [
            "plain",
            "",
            "a;b",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "Čaj ; kava",
        ] {
            for delimiter in [b';', b','] {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(Vec::new());
                let _ = w.write_record([value, "x"]);
                let expected = w.into_inner().unwrap_or_default();
                let mut ours = Vec::new();
                field(&mut ours, value.as_bytes(), delimiter);
                ours.push(delimiter);
                ours.extend_from_slice(b"x\r\n");
                assert_eq!(ours, expected, "{value:?}");
            }
        }
    }

    #[test]
    fn local_times_print_with_leading_zeros() {
        let mut out = [0u8; 19];
        let t = NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(7, 5, 9))
            .unwrap_or_default();
        local_time(&mut out, t);
        assert_eq!(&out, b"2026-03-01 07:05:09");
    }
}
