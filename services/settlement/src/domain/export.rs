//! Produces one download of a period; for a closed period, checks it against the
//! digest its first download had (the same closed period gives the same bytes).

use std::sync::Arc;
use std::time::Instant;

use kernel::TownId;
use platform::{ApiError, db};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::console::i18n::Lang;
use crate::db::periods::{self, PeriodRow};
use crate::db::totals::{self, Town};
use crate::domain::statement::Summary;
use crate::domain::{month, statement};
use crate::reports::csv::{Dialect, Listing};
use crate::reports::{self, ReportFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Download {
    /// Every redemption and reversal, for Slovenian Excel.
    Csv,
    /// The same, RFC 4180.
    CsvRfc4180,
    Xlsx,
    SummaryPdf,
    /// pain.001.001.09 paying the co-financed shares.
    Sepa,
    MerchantPdf(Uuid),
    MerchantCsv(Uuid),
}

impl Download {
    /// The town-wide downloads, in the order the console lists them.
    pub const TOWN: [Download; 5] = [
        Download::Csv,
        Download::CsvRfc4180,
        Download::Xlsx,
        Download::SummaryPdf,
        Download::Sepa,
    ];

    pub fn parse(name: &str) -> Option<Download> {
        Some(match name {
            "redemptions.csv" => Download::Csv,
            "redemptions-rfc4180.csv" => Download::CsvRfc4180,
            "statements.xlsx" => Download::Xlsx,
            "summary.pdf" => Download::SummaryPdf,
            "payout.xml" => Download::Sepa,
            other => {
                let rest = other.strip_prefix("merchant-")?;
                if let Some(id) = rest.strip_suffix(".pdf") {
                    Download::MerchantPdf(id.parse().ok()?)
                } else {
                    Download::MerchantCsv(rest.strip_suffix(".csv")?.parse().ok()?)
                }
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Download::Csv => "redemptions.csv".into(),
            Download::CsvRfc4180 => "redemptions-rfc4180.csv".into(),
            Download::Xlsx => "statements.xlsx".into(),
            Download::SummaryPdf => "summary.pdf".into(),
            Download::Sepa => "payout.xml".into(),
            Download::MerchantPdf(m) => format!("merchant-{m}.pdf"),
            Download::MerchantCsv(m) => format!("merchant-{m}.csv"),
        }
    }

    pub fn merchant(&self) -> Option<Uuid> {
        match self {
            Download::MerchantPdf(m) | Download::MerchantCsv(m) => Some(*m),
            _ => None,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

fn filename(t: &Town, period: &PeriodRow, d: Download) -> String {
    format!("{}-{}-{}", t.slug, month::label(period.month), d.name())
}

fn listing(town: TownId, period: &PeriodRow, merchant: Option<Uuid>) -> Listing {
    Listing {
        town,
        month: period.month,
        closed: period.status != "open",
        merchant,
    }
}

pub async fn render(
    conn: &mut PgConnection,
    town: TownId,
    period: &PeriodRow,
    d: Download,
    lang: Lang,
) -> Result<ReportFile, ApiError> {
    let t = totals::town(conn, town, None).await?;
    let filename = filename(&t, period, d);
    let file = match d {
        Download::Csv | Download::CsvRfc4180 | Download::MerchantCsv(_) => {
            let dialect = if d == Download::CsvRfc4180 {
                Dialect::Rfc4180
            } else {
                Dialect::Excel
            };
            reports::csv::write(conn, listing(town, period, d.merchant()), dialect, filename)
                .await
                .map_err(internal)?
        }
        _ => {
            let s = statement::summary(conn, town, period).await?;
            if d == Download::Sepa && period.status == "open" {
                return Err(ApiError::conflict(
                    "period_open",
                    "the payout file is made for a closed period",
                ));
            }
            tokio::task::spawn_blocking(move || from_summary(&s, d, lang, filename))
                .await
                .map_err(internal)??
        }
    };
    check_reproducible(conn, town, period, d, lang, &file).await?;
    Ok(file)
}

/// The downloads made from the statements (XLSX, PDFs, SEPA); CPU only.
fn from_summary(
    s: &Summary,
    d: Download,
    lang: Lang,
    filename: String,
) -> Result<ReportFile, ApiError> {
    match d {
        Download::Xlsx => reports::xlsx::write(s, lang, filename).map_err(internal),
        Download::SummaryPdf => reports::pdf::town_summary(s, lang, filename).map_err(internal),
        Download::MerchantPdf(m) => {
            reports::pdf::merchant_statement(s, m, lang, filename).map_err(|e| match e {
                reports::pdf::PdfReportError::NoMerchant => ApiError::not_found(
                    "statement_not_found",
                    "no redemptions of this merchant in the period",
                ),
                e => internal(e),
            })
        }
        Download::Sepa => reports::sepa::write(s, filename).map_err(|e| match e {
            reports::sepa::SepaError::NoIban(m) => {
                ApiError::conflict("merchant_without_iban", format!("merchant {m} has no IBAN"))
            }
            e => internal(e),
        }),
        Download::Csv | Download::CsvRfc4180 | Download::MerchantCsv(_) => {
            Err(internal("a CSV listing is not made from the statements"))
        }
    }
}

/// For a closed period: records the first digest of each download and refuses one
/// that differs from it.
async fn check_reproducible(
    conn: &mut PgConnection,
    town: TownId,
    period: &PeriodRow,
    d: Download,
    lang: Lang,
    file: &ReportFile,
) -> Result<(), ApiError> {
    if period.status == "open" {
        return Ok(());
    }
    let key = format!("{}:{}", d.name(), lang.code());
    let first =
        periods::record_report(conn, town, period.month, &key, &file.sha256, file.bytes).await?;
    if first != file.sha256 {
        tracing::error!(report = %key, first = %first, now = %file.sha256, "a closed period's report changed");
        return Err(ApiError::conflict(
            "report_not_reproducible",
            "this report no longer matches its first download; run the audit",
        ));
    }
    Ok(())
}

/// One finished download of [`render_all`], with how long it took.
#[derive(Debug)]
pub struct Rendered {
    pub download: Download,
    pub file: ReportFile,
    pub seconds: f64,
}

/// Every town download of the period, plus the statements of `merchants`, at once
/// (a bulk export; the benchmark): the two CSV listings in one pass over the month
/// on one connection while, on another, the totals are loaded once and the XLSX,
/// the PDFs and the SEPA file are rendered from them on the blocking pool, one job
/// per core. The bytes are those of [`render`], which the tests check.
pub async fn render_all(
    pool: &PgPool,
    town: TownId,
    period: &PeriodRow,
    lang: Lang,
    merchants: &[Uuid],
) -> Result<Vec<Rendered>, ApiError> {
    let started = Instant::now();
    let mut tx = db::begin_town(pool, town).await?;
    let t = totals::town(&mut tx, town, None).await?;
    tx.commit().await?;
    let listings = async {
        let mut tx = db::begin_town(pool, town).await?;
        let outs = [Download::Csv, Download::CsvRfc4180];
        let files = reports::csv::write_many(
            &mut tx,
            listing(town, period, None),
            vec![
                (Dialect::Excel, filename(&t, period, outs[0])),
                (Dialect::Rfc4180, filename(&t, period, outs[1])),
            ],
        )
        .await
        .map_err(internal)?;
        tx.commit().await?;
        let seconds = started.elapsed().as_secs_f64();
        Ok::<_, ApiError>(
            outs.into_iter()
                .zip(files)
                .map(|(download, file)| Rendered {
                    download,
                    file,
                    seconds,
                })
                .collect::<Vec<_>>(),
        )
    };
    let statements = async {
        let mut tx = db::begin_town(pool, town).await?;
        let s = Arc::new(statement::summary(&mut tx, town, period).await?);
        tx.commit().await?;
        let mut town_reports = vec![Download::Xlsx, Download::SummaryPdf];
        if period.status != "open" {
            town_reports.push(Download::Sepa);
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A merchant without a statement in the period has no PDF to make.
        let listed: std::collections::HashSet<Uuid> =
            s.merchants.iter().map(|m| m.merchant_id).collect();
        let merchants: Vec<Uuid> = merchants
            .iter()
            .copied()
            .filter(|m| listed.contains(m))
            .collect();
        let per_job = merchants.len().div_ceil(cores).max(1);
        let mut jobs: Vec<Vec<Download>> = vec![town_reports];
        jobs.extend(
            merchants
                .chunks(per_job)
                .map(|c| c.iter().map(|m| Download::MerchantPdf(*m)).collect()),
        );
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let s = Arc::clone(&s);
                let names: Vec<String> = job.iter().map(|d| filename(&t, period, *d)).collect();
                tokio::task::spawn_blocking(move || {
                    job.into_iter()
                        .zip(names)
                        .map(|(download, name)| {
                            let t0 = Instant::now();
                            let file = from_summary(&s, download, lang, name)?;
                            Ok(Rendered {
                                download,
                                file,
                                seconds: t0.elapsed().as_secs_f64(),
                            })
                        })
                        .collect::<Result<Vec<_>, ApiError>>()
                })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.extend(h.await.map_err(internal)??);
        }
        Ok::<_, ApiError>(out)
    };
    let (mut all, rest) = tokio::try_join!(listings, statements)?;
    all.extend(rest);
    let mut tx = db::begin_town(pool, town).await?;
    for r in &all {
        check_reproducible(&mut tx, town, period, r.download, lang, &r.file).await?;
    }
    tx.commit().await?;
    Ok(all)
}
