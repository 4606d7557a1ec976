//! PDF reports (typst, in the report-pdf crate): the town summary with its
//! budget-use chart, and one merchant's statement.

use std::io::Write;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{HashingFile, ReportFile, printed};
use crate::console::i18n::{Lang, t};
use crate::domain::statement::{Amounts, Summary};

#[derive(Debug, thiserror::Error)]
pub enum PdfReportError {
    #[error(transparent)]
    Pdf(#[from] report_pdf::PdfError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("no statement for this merchant in the period")]
    NoMerchant,
}

fn labels(lang: Lang) -> Value {
    let keys = [
        "merchant",
        "promotion",
        "count",
        "basket",
        "discount",
        "municipality",
        "merchant_share",
        "points",
        "adjustments",
        "budget_used",
        "budget_left",
        "total",
        "chart",
        "day",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), Value::from(t(lang, k))))
            .collect(),
    )
}

fn amounts(a: &Amounts) -> Value {
    json!({
        "count": a.redemptions, "basket": printed(a.basket), "discount": printed(a.discount),
        "municipality": printed(a.municipality), "merchant_share": printed(a.merchant_share),
        "points": a.points, "adjustments": printed(a.adjustments),
    })
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

fn base(s: &Summary, lang: Lang, title: &str) -> Value {
    json!({
        "lang": lang.code(), "title": t(lang, title), "town": s.town, "period": s.period,
        "status": t(lang, &s.status), "digest": if s.journal_digest.is_empty() { "-" } else { &s.journal_digest },
        "labels": labels(lang), "totals": amounts(&s.totals),
    })
}

fn save(bytes: &[u8], filename: String) -> Result<ReportFile, PdfReportError> {
    let mut f = HashingFile::create()?;
    f.write_all(bytes)?;
    Ok(f.finish("application/pdf", filename)?)
}

/// The town summary: promotions, merchants, totals and the budget-use chart.
pub fn town_summary(
    s: &Summary,
    lang: Lang,
    filename: String,
) -> Result<ReportFile, PdfReportError> {
    let max = s.burn.last().copied().unwrap_or_default();
    let points: Vec<Value> = s
        .burn
        .iter()
        .enumerate()
        .map(|(i, v)| json!([i + 1, v.to_f64().unwrap_or_default()]))
        .collect();
    let data = with(
        base(s, lang, "town_summary"),
        json!({
            "promotions": s.promotions.iter().map(|p| with(amounts(&p.amounts), json!({
                "name": p.name, "budget_used": printed(p.budget_used), "budget_left": printed(p.budget_left),
            }))).collect::<Vec<_>>(),
            "merchants": s.merchants.iter().map(|m| with(amounts(&m.amounts), json!({"name": m.name}))).collect::<Vec<_>>(),
            "chart": {"days": s.burn.len(), "max": max.to_f64().unwrap_or_default(),
                      "max_label": format!("{} €", printed(max)), "points": points},
        }),
    );
    let pdf = report_pdf::render(report_pdf::Template::TownSummary, &data)?;
    save(&pdf, filename)
}

/// One merchant's statement: totals and a line per day.
pub fn merchant_statement(
    s: &Summary,
    merchant: Uuid,
    lang: Lang,
    filename: String,
) -> Result<ReportFile, PdfReportError> {
    let m = s
        .merchants
        .iter()
        .find(|m| m.merchant_id == merchant)
        .ok_or(PdfReportError::NoMerchant)?;
    let days = s.merchant_days.get(&merchant).cloned().unwrap_or_default();
    let lines: Vec<Value> = days
        .iter()
        .map(|(day, a)| json!({
            "date": day.format("%d.%m.%Y").to_string(), "receipt": a.redemptions.to_string(),
            "promotion": if a.reversals > 0 { format!("{} −{}", t(lang, "reversals"), a.reversals) } else { String::new() },
            "basket": printed(a.basket), "discount": printed(a.discount),
            "municipality": printed(a.municipality), "merchant_share": printed(a.merchant_share),
            "adjustment": a.adjustments != Decimal::ZERO,
        }))
        .collect();
    let mut data = with(
        base(s, lang, "merchant_statement"),
        json!({
            "merchant": {"name": m.name, "iban": m.iban.clone().unwrap_or_default()},
            "lines": lines,
        }),
    );
    data["totals"] = amounts(&m.amounts);
    let pdf = report_pdf::render(report_pdf::Template::MerchantStatement, &data)?;
    save(&pdf, filename)
}
