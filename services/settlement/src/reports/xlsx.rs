//! The period's statements as an XLSX workbook: merchants and promotions, formatted,
//! with totals (SUM formulas carrying their computed values).

use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, Formula, Workbook, XlsxError,
};

use super::{HashingFile, ReportFile, point};
use crate::console::i18n::{Lang, t};
use crate::domain::statement::{Amounts, Summary};

const MONEY: &str = "#,##0.00 \"€\"";

fn amount_cells(a: &Amounts) -> [f64; 5] {
    let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or_default();
    [
        f(a.basket),
        f(a.discount),
        f(a.municipality),
        f(a.merchant_share),
        f(a.adjustments),
    ]
}

pub fn write(s: &Summary, lang: Lang, filename: String) -> Result<ReportFile, XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time (the close, else the month) keeps the bytes reproducible.
    let created = s
        .closed_at
        .map(|c| c.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{}-01T00:00:00", s.period));
    let created = ExcelDateTime::parse_from_str(&created)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("{} {}", s.town, s.period))
            .set_author("towncard")
            .set_creation_datetime(&created),
    );
    let head = Format::new()
        .set_bold()
        .set_background_color(0xDDEBF7)
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    let money = Format::new().set_num_format(MONEY);
    let total_money = Format::new()
        .set_num_format(MONEY)
        .set_bold()
        .set_border_top(rust_xlsxwriter::FormatBorder::Double);
    let total_int = Format::new()
        .set_bold()
        .set_border_top(rust_xlsxwriter::FormatBorder::Double);
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Left);

    let money_cols = [
        "basket",
        "discount",
        "municipality",
        "merchant_share",
        "adjustments",
    ];
    // Merchants.
    {
        let ws = wb.add_worksheet();
        ws.set_name(t(lang, "merchants"))?;
        ws.write_string_with_format(
            0,
            0,
            format!("{} — {} ({})", s.town, s.period, t(lang, &s.status)),
            &title,
        )?;
        let mut cols = vec![
            t(lang, "merchant"),
            "IBAN",
            t(lang, "count"),
            t(lang, "reversals"),
        ];
        cols.extend(money_cols.iter().map(|c| t(lang, c)));
        cols.push(t(lang, "points"));
        for (i, c) in cols.iter().enumerate() {
            ws.write_string_with_format(2, i as u16, *c, &head)?;
        }
        let first = 3u32;
        for (i, m) in s.merchants.iter().enumerate() {
            let r = first + i as u32;
            ws.write_string(r, 0, &m.name)?;
            ws.write_string(r, 1, m.iban.as_deref().unwrap_or(""))?;
            ws.write_number(r, 2, m.amounts.redemptions as f64)?;
            ws.write_number(r, 3, m.amounts.reversals as f64)?;
            for (j, v) in amount_cells(&m.amounts).iter().enumerate() {
                ws.write_number_with_format(r, 4 + j as u16, *v, &money)?;
            }
            ws.write_number(r, 9, m.amounts.points as f64)?;
        }
        let last = first + s.merchants.len() as u32;
        ws.write_string_with_format(last, 0, t(lang, "total"), &total_int)?;
        ws.write_string_with_format(last, 1, "", &total_int)?;
        let tot = &s.totals;
        let ints = [(2u16, tot.redemptions), (3, tot.reversals), (9, tot.points)];
        for (col, v) in ints {
            let f = sum_formula(col, first, last).set_result(v.to_string());
            ws.write_formula_with_format(last, col, f, &total_int)?;
        }
        let sums = [
            tot.basket,
            tot.discount,
            tot.municipality,
            tot.merchant_share,
            tot.adjustments,
        ];
        for (j, v) in sums.iter().enumerate() {
            let col = 4 + j as u16;
            let f = sum_formula(col, first, last).set_result(point(*v));
            ws.write_formula_with_format(last, col, f, &total_money)?;
        }
        ws.set_column_width(0, 32)?;
        ws.set_column_width(1, 24)?;
        ws.set_column_range_width(2, 9, 14)?;
        ws.set_freeze_panes(3, 1)?;
    }
    // Promotions.
    {
        let ws = wb.add_worksheet();
        ws.set_name(t(lang, "promotions"))?;
        let mut cols = vec![t(lang, "promotion"), t(lang, "count"), t(lang, "reversals")];
        cols.extend(money_cols.iter().map(|c| t(lang, c)));
        cols.extend([t(lang, "budget_used"), t(lang, "budget_left")]);
        for (i, c) in cols.iter().enumerate() {
            ws.write_string_with_format(0, i as u16, *c, &head)?;
        }
        for (i, p) in s.promotions.iter().enumerate() {
            let r = 1 + i as u32;
            ws.write_string(r, 0, &p.name)?;
            ws.write_number(r, 1, p.amounts.redemptions as f64)?;
            ws.write_number(r, 2, p.amounts.reversals as f64)?;
            for (j, v) in amount_cells(&p.amounts).iter().enumerate() {
                ws.write_number_with_format(r, 3 + j as u16, *v, &money)?;
            }
            ws.write_number_with_format(r, 8, p.budget_used.to_f64().unwrap_or_default(), &money)?;
            ws.write_number_with_format(r, 9, p.budget_left.to_f64().unwrap_or_default(), &money)?;
        }
        ws.set_column_width(0, 32)?;
        ws.set_column_range_width(1, 9, 14)?;
        ws.set_freeze_panes(1, 1)?;
    }
    // A summary workbook is small: build it in memory, then hash it to disk.
    let bytes = wb.save_to_buffer()?;
    let mut file = HashingFile::create().map_err(XlsxError::IoError)?;
    std::io::Write::write_all(&mut file, &bytes).map_err(XlsxError::IoError)?;
    file.finish(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename,
    )
    .map_err(XlsxError::IoError)
}

fn sum_formula(col: u16, first: u32, last: u32) -> Formula {
    let c = rust_xlsxwriter::utility::column_number_to_name(col);
    Formula::new(format!("=SUM({c}{}:{c}{})", first + 1, last))
}
