//! A printable A4 sheet (SVG, millimetres) of cards: 2 × 5 cards of 85.6 × 54 mm
//! (ID-1, the credit-card size), each with its QR code and number, and thin cut lines.

use super::qr::{Matrix, TooLong, escape};

pub const PER_PAGE: usize = 10;
const CARD_W: f64 = 85.6;
const CARD_H: f64 = 54.0;
const QR_MM: f64 = 38.0;

pub struct PrintCard<'a> {
    pub number: String,
    pub token: String,
    pub title: &'a str,
    pub town: &'a str,
}

/// One A4 page with up to ten cards.
pub fn page(cards: &[PrintCard<'_>]) -> Result<String, TooLong> {
    let gap_x = (210.0 - 2.0 * CARD_W) / 3.0;
    let gap_y = (297.0 - 5.0 * CARD_H) / 6.0;
    let mut out = String::with_capacity(cards.len() * 9000);
    out.push_str(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"297mm\" viewBox=\"0 0 210 297\">\
         <rect width=\"210\" height=\"297\" fill=\"#fff\"/>",
    );
    for (i, c) in cards.iter().take(PER_PAGE).enumerate() {
        let x = gap_x + (i % 2) as f64 * (CARD_W + gap_x);
        let y = gap_y + (i / 2) as f64 * (CARD_H + gap_y);
        let m = Matrix::new(&c.token)?;
        let n = m.full();
        out.push_str(&format!(
            "<g transform=\"translate({x:.2} {y:.2})\">\
             <rect width=\"{CARD_W}\" height=\"{CARD_H}\" rx=\"3\" fill=\"none\" stroke=\"#999\" stroke-width=\"0.2\"/>\
             <text x=\"5\" y=\"10\" font-family=\"sans-serif\" font-size=\"5\" font-weight=\"bold\">{}</text>\
             <text x=\"5\" y=\"16\" font-family=\"sans-serif\" font-size=\"3.2\">{}</text>\
             <svg x=\"{:.2}\" y=\"4\" width=\"{QR_MM}\" height=\"{QR_MM}\" viewBox=\"0 0 {n} {n}\" shape-rendering=\"crispEdges\">\
             <path d=\"{}\"/></svg>\
             <text x=\"{:.2}\" y=\"48\" font-family=\"monospace\" font-size=\"4\" text-anchor=\"middle\">{}</text></g>",
            escape(c.title),
            escape(c.town),
            CARD_W - QR_MM - 3.0,
            m.svg_path(),
            CARD_W - QR_MM / 2.0 - 3.0,
            escape(&c.number),
        ));
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_ten_cards() {
        let cards: Vec<PrintCard<'_>> = (0..12)
            .map(|i| PrintCard {
                number: format!("1010 0000 00{i:02}"),
                token: format!("TC1:{i}{}", "X".repeat(140)),
                title: "Koper Card <48h>",
                town: "Koper",
            })
            .collect();
        let svg = page(&cards).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(svg.matches("<g transform").count(), 10);
        assert!(svg.contains("Koper Card &lt;48h&gt;"));
        assert!(svg.contains("1010 0000 0009") && !svg.contains("1010 0000 0010"));
    }
}
