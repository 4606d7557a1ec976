//! Amounts as integer cents, decoded straight from Postgres' binary `numeric`.
//!
//! The CSV listings print a million amounts a month; going through `Decimal` (its
//! decoder, `round_dp`, `rescale` and `Display`) cost more than the rest of a row.
//! The printed text is the same: rounded to two decimals, half to even, as
//! [`super::point`] does.

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueFormat, PgValueRef, Postgres};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cents(pub i64);

impl Cents {
    /// `1234.5` → `1234.50` (`sep` `.`) or `1234,50` (`sep` `,`), appended to `out`.
    pub fn write(self, out: &mut Vec<u8>, sep: u8) {
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        let neg = self.0 < 0;
        let mut v = self.0.unsigned_abs();
        for pos in 0..3 {
            if pos == 2 {
                i -= 1;
                buf[i] = sep;
            }
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        while v > 0 {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        if neg {
            i -= 1;
            buf[i] = b'-';
        }
        out.extend_from_slice(&buf[i..]);
    }

    fn from_decimal(d: Decimal) -> Result<Cents, BoxDynError> {
        let mut d = d.round_dp(2);
        d.rescale(2);
        i64::try_from(d.mantissa())
            .map(Cents)
            .map_err(|_| "amount out of range".into())
    }
}

/// Postgres' binary numeric: ndigits, weight, sign, dscale, then base-10000 digits,
/// the first one worth 10000^weight.
fn parse_binary(b: &[u8]) -> Result<Cents, BoxDynError> {
    let word = |i: usize| -> Result<u16, BoxDynError> {
        b.get(i * 2..i * 2 + 2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
            .ok_or_else(|| "short numeric".into())
    };
    let ndigits = word(0)? as usize;
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Err("NaN is not an amount".into());
    }
    // The value scaled by 10^4 per fractional group: exact in i128 for numeric(18,2)
    // and anything else an amount column could hold.
    let frac_groups = (ndigits as i64 - weight - 1).max(0);
    if frac_groups > 8 || weight > 8 {
        return Err("amount out of range".into());
    }
    let mut scaled: i128 = 0;
    for i in 0..ndigits {
        scaled = scaled * 10_000 + i128::from(word(4 + i)?);
    }
    // Digits left out after the last one (trailing zero groups of the integer part).
    for _ in 0..(weight + 1 - ndigits as i64).max(0) {
        scaled *= 10_000;
    }
    let unit = 10_000i128.pow(frac_groups as u32);
    let mut cents = scaled * 100 / unit;
    let rest = scaled * 100 % unit;
    // Half to even, as Decimal::round_dp (only with more than two decimals).
    if rest * 2 > unit || (rest * 2 == unit && cents % 2 == 1) {
        cents += 1;
    }
    if sign == 0x4000 {
        cents = -cents;
    }
    i64::try_from(cents)
        .map(Cents)
        .map_err(|_| "amount out of range".into())
}

impl sqlx::Type<Postgres> for Cents {
    fn type_info() -> PgTypeInfo {
        <Decimal as sqlx::Type<Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Cents {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => parse_binary(value.as_bytes()?),
            PgValueFormat::Text => Cents::from_decimal(value.as_str()?.parse()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary form Postgres sends for `d` (what `numeric_send` writes).
    fn binary(d: &str) -> Vec<u8> {
        let (neg, d) = d.strip_prefix('-').map_or((false, d), |r| (true, r));
        let (int, frac) = d.split_once('.').unwrap_or((d, ""));
        let dscale = frac.len() as u16;
        let int = int.trim_start_matches('0');
        let pad_int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let pad_frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let mut digits: Vec<u16> = pad_int
            .as_bytes()
            .chunks(4)
            .chain(pad_frac.as_bytes().chunks(4))
            .map(|c| std::str::from_utf8(c).unwrap_or("0").parse().unwrap_or(0))
            .collect();
        let mut weight = (pad_int.len() / 4) as i16 - 1;
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        let sign: u16 = if neg && !digits.is_empty() { 0x4000 } else { 0 };
        let mut out = Vec::new();
        for w in [digits.len() as u16, weight as u16, sign, dscale] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    fn text(c: Cents, sep: u8) -> String {
        let mut v = Vec::new();
        c.write(&mut v, sep);
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn decodes_and_prints_like_decimal() {
        for s in [
            "0",
            "0.00",
            "0.05",
            "-0.10",
            "1",
            "45.60",
            "-99.99",
            "10000",
            "10000.01",
            "123456789.12",
            "-5.00",
            "20000",
            "0.005",
            "0.015",
            "0.0151",
            "2.345",
            "-2.355",
            "99999999999999.99",
        ] {
            let d: Decimal = s.parse().unwrap_or_default();
            let c = parse_binary(&binary(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(c, Cents::from_decimal(d).unwrap_or_default(), "{s}");
            assert_eq!(text(c, b'.'), super::super::point(d), "{s}");
            assert_eq!(text(c, b','), super::super::comma(d), "{s}");
        }
    }
}
