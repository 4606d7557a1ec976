//! Reconciliation: the merchant's own claim (a CSV of receipts) against the statement.

use kernel::Money;
use platform::ApiError;
use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq)]
pub struct ClaimLine {
    pub receipt_number: String,
    pub basket: Decimal,
    pub discount: Decimal,
}

const MAX_LINES: usize = 200_000;

/// Parses a claim: a header naming `receipt_number`, `basket` and `discount` (or the
/// Slovenian `racun`, `kosarica`, `popust`), then one receipt per line. `;` with
/// decimal commas (as Slovenian Excel saves it) or `,` with decimal points.
pub fn parse_claim(body: &[u8]) -> Result<Vec<ClaimLine>, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let first = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let semicolon = first.contains(&b';');
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(if semicolon { b';' } else { b',' })
        .trim(csv::Trim::All)
        .from_reader(body);
    let bad = |m: String| ApiError::unprocessable("invalid_claim", m);
    let headers = rdr
        .headers()
        .map_err(|e| bad(format!("unreadable header: {e}")))?
        .clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| {
                names.contains(
                    &h.to_lowercase()
                        .replace('č', "c")
                        .replace('š', "s")
                        .as_str(),
                )
            })
            .ok_or_else(|| bad(format!("the header needs a column {}", names[0])))
    };
    let (ir, ib, id) = (
        col(&["receipt_number", "receipt", "racun"])?,
        col(&["basket", "kosarica", "znesek"])?,
        col(&["discount", "popust"])?,
    );
    let amount = |s: &str, line: usize| {
        let s = if semicolon {
            s.replace('.', "").replace(',', ".")
        } else {
            s.to_owned()
        };
        Money::parse(&s)
            .map(|m| m.amount())
            .map_err(|e| bad(format!("line {line}: {e}")))
    };
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(format!("line {line}: {e}")))?;
        let receipt = rec.get(ir).unwrap_or_default().to_owned();
        if receipt.is_empty() || receipt.len() > 100 {
            return Err(bad(format!(
                "line {line}: a receipt number is 1 to 100 characters"
            )));
        }
        out.push(ClaimLine {
            receipt_number: receipt,
            basket: amount(rec.get(ib).unwrap_or_default(), line)?,
            discount: amount(rec.get(id).unwrap_or_default(), line)?,
        });
        if out.len() > MAX_LINES {
            return Err(bad(format!("a claim has at most {MAX_LINES} lines")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = out.iter().find(|l| !seen.insert(l.receipt_number.clone())) {
        return Err(bad(format!(
            "receipt {} is listed twice",
            dup.receipt_number
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn reads_excel_and_plain_claims() {
        let sl = "\u{feff}Račun;Košarica;Popust\nR-1;1.234,50;12,35\nR-2;10;1\n";
        let lines = parse_claim(sl.as_bytes()).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].basket, dec!(1234.50));
        assert_eq!(lines[0].discount, dec!(12.35));
        let plain = "receipt_number,basket,discount\nR-1,20.00,2.00\n";
        let lines = parse_claim(plain.as_bytes()).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(lines[0].basket, dec!(20.00));
    }

    #[test]
    fn refuses_bad_claims_with_a_4xx() {
        for bad in [
            "x,y\n1,2\n",
            "receipt,basket,discount\nR,abc,1\n",
            "receipt,basket,discount\nR,1,1\nR,2,2\n",
        ] {
            let e = parse_claim(bad.as_bytes())
                .err()
                .map(|e| (e.status.as_u16(), e.code));
            assert_eq!(e, Some((422, "invalid_claim")), "{bad}");
        }
    }
}
