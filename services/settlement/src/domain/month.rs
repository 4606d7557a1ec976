//! A settlement month as it appears in paths: `2026-03`.

use chrono::{Datelike, NaiveDate};
use platform::ApiError;

/// Parses `YYYY-MM` (or `YYYY-MM-01`) into the first day of the month.
pub fn parse(s: &str) -> Result<NaiveDate, ApiError> {
    let bad = || ApiError::bad_request("invalid_month", "a month is written YYYY-MM, e.g. 2026-03");
    let s = s.strip_suffix("-01").filter(|x| x.len() == 7).unwrap_or(s);
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)
}

pub fn label(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// Days in the month.
pub fn days(month: NaiveDate) -> u32 {
    let next = month
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month);
    (next - month).num_days().max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_months_and_refuses_the_rest() {
        assert_eq!(parse("2026-03").ok(), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(
            parse("2026-10-01").ok(),
            NaiveDate::from_ymd_opt(2026, 10, 1)
        );
        for bad in ["2026-13", "2026-3", "x", "2026-03-02", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            days(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default()),
            28
        );
        assert_eq!(
            label(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default()),
            "2026-03"
        );
    }
}
