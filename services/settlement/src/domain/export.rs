//! Produces one download of a period; for a closed period, checks it against the
//! digest its first download had (the same closed period gives the same bytes).

use kernel::TownId;
use platform::ApiError;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::console::i18n::Lang;
use crate::db::periods::{self, PeriodRow};
use crate::db::totals;
use crate::domain::{month, statement};
use crate::reports::{self, ReportFile, csv::Dialect};

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

pub async fn render(
    conn: &mut PgConnection,
    town: TownId,
    period: &PeriodRow,
    d: Download,
    lang: Lang,
) -> Result<ReportFile, ApiError> {
    let t = totals::town(conn, town).await?;
    let filename = format!("{}-{}-{}", t.slug, month::label(period.month), d.name());
    let file = match d {
        Download::Csv | Download::CsvRfc4180 | Download::MerchantCsv(_) => {
            let dialect = if d == Download::CsvRfc4180 {
                Dialect::Rfc4180
            } else {
                Dialect::Excel
            };
            reports::csv::write(conn, town, period.month, d.merchant(), dialect, filename)
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
            tokio::task::spawn_blocking(move || match d {
                Download::Xlsx => reports::xlsx::write(&s, lang, filename).map_err(internal),
                Download::SummaryPdf => {
                    reports::pdf::town_summary(&s, lang, filename).map_err(internal)
                }
                Download::MerchantPdf(m) => reports::pdf::merchant_statement(&s, m, lang, filename)
                    .map_err(|e| match e {
                        reports::pdf::PdfReportError::NoMerchant => ApiError::not_found(
                            "statement_not_found",
                            "no redemptions of this merchant in the period",
                        ),
                        e => internal(e),
                    }),
                _ => reports::sepa::write(&s, filename).map_err(|e| match e {
                    reports::sepa::SepaError::NoIban(m) => ApiError::conflict(
                        "merchant_without_iban",
                        format!("merchant {m} has no IBAN"),
                    ),
                    e => internal(e),
                }),
            })
            .await
            .map_err(internal)??
        }
    };
    if period.status != "open" {
        let key = format!("{}:{}", d.name(), lang.code());
        let first =
            periods::record_report(conn, town, period.month, &key, &file.sha256, file.bytes)
                .await?;
        if first != file.sha256 {
            tracing::error!(report = %key, first = %first, now = %file.sha256, "a closed period's report changed");
            return Err(ApiError::conflict(
                "report_not_reproducible",
                "this report no longer matches its first download; run the audit",
            ));
        }
    }
    Ok(file)
}
