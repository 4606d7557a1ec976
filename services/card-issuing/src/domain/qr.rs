//! QR images of a card token, with the printed card number under the code, as SVG
//! or PNG. PNG digits come from a built-in 5×7 bitmap font, so no font files are
//! needed.

use qrcode::{Color, EcLevel, QrCode, Version};

/// Modules of white space around the code (the QR standard asks for 4).
const QUIET: usize = 4;
pub const MIN_SIZE: u32 = 96;
pub const MAX_SIZE: u32 = 2048;

#[derive(Debug, thiserror::Error)]
#[error("the token does not fit a QR code")]
pub struct TooLong;

/// The code's dark modules, row by row.
pub struct Matrix {
    pub width: usize,
    pub version: i16,
    dark: Vec<bool>,
}

impl Matrix {
    pub fn new(text: &str) -> Result<Matrix, TooLong> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|_| TooLong)?;
        let version = match code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        };
        Ok(Matrix {
            width: code.width(),
            version,
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        })
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }

    /// An SVG path of the dark modules, in module units, offset by the quiet zone.
    pub fn svg_path(&self) -> String {
        let mut d = String::with_capacity(self.width * self.width * 4);
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < self.width && self.is_dark(x, y) {
                        x += 1;
                    }
                    d.push_str(&format!(
                        "M{} {}h{}v1h-{}z",
                        start + QUIET,
                        y + QUIET,
                        x - start,
                        x - start
                    ));
                } else {
                    x += 1;
                }
            }
        }
        d
    }

    /// Width including the quiet zone, in modules.
    pub fn full(&self) -> usize {
        self.width + 2 * QUIET
    }
}

/// An SVG of the code with `caption` (the card number) under it; `size` px wide.
pub fn svg(text: &str, caption: &str, size: u32) -> Result<String, TooLong> {
    let m = Matrix::new(text)?;
    let n = m.full();
    let h = n + 3;
    let height = u64::from(size) * h as u64 / n as u64;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{height}\" viewBox=\"0 0 {n} {h}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{n}\" height=\"{h}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{}\"/>\
         <text x=\"{}\" y=\"{}\" font-family=\"DejaVu Sans Mono,Menlo,Consolas,monospace\" font-size=\"2.2\" text-anchor=\"middle\">{}</text></svg>",
        m.svg_path(),
        n as f64 / 2.0,
        n + 1,
        escape(caption)
    ))
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 5×7 glyphs for 0–9, one byte per row, high bits left.
const DIGITS: [[u8; 7]; 10] = [
    [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
    [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
    [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
    [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
    [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
    [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
    [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
    [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
    [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
];

/// A grayscale PNG of the code, `size` px wide, with the number (digits and spaces)
/// printed under it.
pub fn png(text: &str, caption: &str, size: u32) -> Result<Vec<u8>, TooLong> {
    let m = Matrix::new(text)?;
    let n = m.full();
    let scale = (size as usize / n).max(1);
    let width = size.max((n * scale) as u32) as usize;
    let offset = (width - n * scale) / 2;
    let chars = caption.chars().count().max(1);
    let t = (width * 9 / 10 / (chars * 6)).max(1);
    let text_h = 9 * t;
    let height = n * scale + text_h;
    let mut px = vec![255u8; width * height];
    for y in 0..m.width {
        for x in 0..m.width {
            if m.is_dark(x, y) {
                for dy in 0..scale {
                    let row = (y + QUIET) * scale + dy;
                    let start = row * width + offset + (x + QUIET) * scale;
                    px[start..start + scale].fill(0);
                }
            }
        }
    }
    let text_w = chars * 6 * t;
    let mut cx = (width.saturating_sub(text_w)) / 2;
    let top = n * scale;
    for c in caption.chars() {
        if let Some(g) = c.to_digit(10).and_then(|d| DIGITS.get(d as usize)) {
            for (gy, bits) in g.iter().enumerate() {
                for gx in 0..5 {
                    if bits & (0x10 >> gx) != 0 {
                        for dy in 0..t {
                            let row = top + gy * t + dy;
                            let start = row * width + cx + gx * t;
                            if row < height && start + t <= (row + 1) * width {
                                px[start..start + t].fill(0);
                            }
                        }
                    }
                }
            }
        }
        cx += 6 * t;
    }
    encode_png(&px, width as u32, height as u32).map_err(|_| TooLong)
}

fn encode_png(px: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(px)?;
        w.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_have_the_requested_size_and_the_number() {
        let token = format!("TC1:{}", "A".repeat(150));
        let s = svg(&token, "1010 0000 0010", 300).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.starts_with("<svg") && s.contains("width=\"300\"") && s.contains("1010 0000 0010")
        );
        let p = png(&token, "1010 0000 0010", 300).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&p[1..4], b"PNG");
        let w = u32::from_be_bytes([p[16], p[17], p[18], p[19]]);
        assert_eq!(w, 300);
        assert!(Matrix::new(&token).map(|m| m.version).unwrap_or(99) <= 7);
    }
}
