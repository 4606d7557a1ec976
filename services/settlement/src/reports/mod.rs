//! Downloads: each is written to a temporary file while its SHA-256 is computed, so
//! memory stays flat however large the period, and the digest is known before the
//! first byte is sent.

pub mod cents;
pub mod csv;
pub mod pdf;
pub mod sepa;
pub mod xlsx;

use std::io::Write;
use std::path::PathBuf;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// A finished download on disk (removed when dropped).
#[derive(Debug)]
pub struct ReportFile {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub content_type: &'static str,
    pub filename: String,
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A file writer that hashes what passes through it.
pub struct HashingFile {
    out: std::io::BufWriter<std::fs::File>,
    hash: Sha256,
    bytes: u64,
    path: PathBuf,
}

impl HashingFile {
    pub fn create() -> std::io::Result<HashingFile> {
        let path = std::env::temp_dir().join(format!("towncard-report-{}", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&path)?;
        Ok(HashingFile {
            out: std::io::BufWriter::with_capacity(256 * 1024, file),
            hash: Sha256::new(),
            bytes: 0,
            path,
        })
    }

    pub fn finish(
        mut self,
        content_type: &'static str,
        filename: String,
    ) -> std::io::Result<ReportFile> {
        self.out.flush()?;
        Ok(ReportFile {
            path: self.path.clone(),
            sha256: hex::encode(self.hash.clone().finalize()),
            bytes: self.bytes,
            content_type,
            filename,
        })
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// `1234.5` → `1234,50` (Slovenian decimal comma, no grouping).
pub fn comma(d: Decimal) -> String {
    point(d).replace('.', ",")
}

/// `1234.5` → `1234.50`.
pub fn point(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

/// `1234.5` → `1.234,50` for printed reports.
pub fn printed(d: Decimal) -> String {
    let s = comma(d);
    let (sign, s) = s
        .strip_prefix('-')
        .map(|r| ("-", r))
        .unwrap_or(("", s.as_str()));
    let (int, frac) = s.split_once(',').unwrap_or((s, "00"));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped},{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn formats_amounts() {
        assert_eq!(comma(dec!(1234.5)), "1234,50");
        assert_eq!(point(dec!(-0.1)), "-0.10");
        assert_eq!(printed(dec!(1234567.891)), "1.234.567,89");
        assert_eq!(printed(dec!(-12)), "-12,00");
    }
}
