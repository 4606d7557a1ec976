//! PDF reports rendered with typst as a library.
//!
//! The data comes in as JSON (read by the template with `json("/data.json")`), the
//! fonts are the ones embedded in `typst-assets`, and the document date, creator and
//! identifier are fixed, so the same data always gives the same bytes.

mod world;

use std::sync::atomic::{AtomicUsize, Ordering};

use typst::foundations::Smart;
use typst_layout::PagedDocument;

/// The report layouts this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// One merchant's statement for one period.
    MerchantStatement,
    /// The town's summary: per promotion and merchant, with the budget-use chart.
    TownSummary,
}

impl Template {
    fn source(self) -> &'static str {
        match self {
            Template::MerchantStatement => include_str!("templates/merchant_statement.typ"),
            Template::TownSummary => include_str!("templates/town_summary.typ"),
        }
    }

    fn ident(self) -> &'static str {
        match self {
            Template::MerchantStatement => "towncard-merchant-statement",
            Template::TownSummary => "towncard-town-summary",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("report template failed: {0}")]
    Template(String),
    #[error("report data is not valid JSON: {0}")]
    Data(#[from] serde_json::Error),
}

/// Renders in progress, across threads.
static RENDERING: AtomicUsize = AtomicUsize::new(0);

/// Renders `template` with `data`; deterministic for equal inputs.
pub fn render(template: Template, data: &serde_json::Value) -> Result<Vec<u8>, PdfError> {
    RENDERING.fetch_add(1, Ordering::SeqCst);
    let pdf = render_once(template, data);
    let rendering = RENDERING.fetch_sub(1, Ordering::SeqCst);
    // typst memoizes across compilations; without eviction a process that renders
    // hundreds of statements keeps every one's intermediate results. Eviction is
    // global and ages every entry: with n renders side by side each one evicting,
    // keeping only two ages could throw away the others' work in progress (a
    // document is laid out at least twice, the later passes from the first's
    // cache), so the age kept grows with the renders in flight.
    comemo::evict(2 * rendering);
    pdf
}

fn render_once(template: Template, data: &serde_json::Value) -> Result<Vec<u8>, PdfError> {
    let json = serde_json::to_vec(data)?;
    let world = world::ReportWorld::new(template.source(), json).map_err(PdfError::Template)?;
    let doc: PagedDocument = typst::compile(&world)
        .output
        .map_err(|errs| PdfError::Template(describe(&errs)))?;
    let options = typst_pdf::PdfOptions {
        ident: Smart::Custom(template.ident().to_owned()),
        creator: Smart::Custom(Some("towncard".to_owned())),
        timestamp: None,
        ..Default::default()
    };
    typst_pdf::pdf(&doc, &options).map_err(|errs| PdfError::Template(describe(&errs)))
}

fn describe(errs: &[typst::diag::SourceDiagnostic]) -> String {
    errs.iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> serde_json::Value {
        serde_json::json!({
            "lang": "en",
            "title": "Town summary", "town": "Koper", "period": "2026-03",
            "status": "closed", "digest": "abc",
            "labels": {"merchant": "Merchant", "promotion": "Promotion", "count": "Redemptions",
                       "basket": "Basket", "discount": "Discount", "municipality": "Municipality",
                       "merchant_share": "Merchant share", "points": "Points", "adjustments": "Adjustments",
                       "budget_used": "Budget used", "budget_left": "Budget left", "total": "Total",
                       "chart": "Budget use over the month", "day": "day"},
            "promotions": [{"name": "Razvajaj se", "count": 3, "basket": "100,00", "discount": "10,00",
                            "municipality": "5,00", "merchant_share": "5,00", "budget_used": "5,00", "budget_left": "95,00"}],
            "merchants": [{"name": "Kavarna", "count": 3, "basket": "100,00", "discount": "10,00",
                           "municipality": "5,00", "merchant_share": "5,00", "points": 0, "adjustments": "0,00"}],
            "totals": {"count": 3, "basket": "100,00", "discount": "10,00", "municipality": "5,00",
                       "merchant_share": "5,00", "points": 0, "adjustments": "0,00"},
            "chart": {"days": 31, "max": 5.0, "max_label": "5,00", "points": [[1, 1.0], [2, 3.0], [31, 5.0]]}
        })
    }

    #[test]
    fn the_town_summary_renders_the_same_bytes_twice() {
        let a = render(Template::TownSummary, &summary()).unwrap_or_else(|e| panic!("{e}"));
        let b = render(Template::TownSummary, &summary()).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b);
    }

    #[test]
    fn a_merchant_statement_renders() {
        let mut d = summary();
        d["merchant"] = serde_json::json!({"name": "Kavarna", "iban": "SI56191000000123438"});
        d["lines"] = serde_json::json!([{"date": "2026-03-01", "receipt": "R1", "promotion": "Razvajaj se",
            "basket": "10,00", "discount": "1,00", "municipality": "0,50", "merchant_share": "0,50", "adjustment": false}]);
        let pdf = render(Template::MerchantStatement, &d).unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() > 1000);
    }
}
